"""Hypothesis strategies and contract checkers, exported so that users can property-test their
own perturbations exactly as radperturb tests its own.

`check_invariants` (from `perturb.checks`) runs every invariant that applies to a result's kind;
`check_kernel_matches_reference` and `check_batch_matches_single` check that the batch paths give
what the per-report reference gives. The strategies generate what real reports hold and taggers
get wrong: glued words ("left" "-" "sided", "patient" "'s"), sentence starts the parse does not
mark, capitalised words tagged PROPN, acronyms, digits and quotes at sentence starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hypothesis import strategies as st

from perturb.apply import apply, apply_spec
from perturb.batch.run import apply_batch
from perturb.checks import check_invariants
from perturb.parsed import ParsedReport
from perturb.registry import get
from perturb.seeding import key_hash

COARSE_POS = ("NOUN", "PROPN", "ADJ", "VERB", "AUX", "DET", "ADP", "ADV", "PRON", "NUM", "CCONJ", "PART")
PUNCTUATION = (".", ",", ":", ";", "-", "(", ")", "/", '"', "'", "!", "?")

#: Words typical of chest X-ray reports (with the pieces a tokenizer splits off glued words),
#: mixed with arbitrary unicode by `words()`.
REPORT_WORDS = (
    "heart", "size", "normal", "no", "pleural", "effusion", "left", "right", "mild", "severe",
    "cardiomegaly", "lungs", "clear", "small", "large", "acute", "chronic", "AP", "COPD", "T2/FLAIR",
    "and/or", "is", "are", "there", "the", "a", "of", "with", "without", "increased", "decreased",
    "XXXX", "Heart", "Mild", "No", "Prominence", "Vague", "Negative", "sided", "'s", "n't", "can",
    "not", "x", "ray", "1", "2", "I",
)


def words() -> st.SearchStrategy[str]:
    """Report vocabulary plus arbitrary non-empty unicode strings without whitespace."""
    arbitrary = st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
        min_size=1,
        max_size=8,
    )
    return st.one_of(st.sampled_from(REPORT_WORDS), arbitrary)


@st.composite
def parsed_reports(draw: st.DrawFn, min_tokens: int = 0, max_tokens: int = 60) -> ParsedReport:
    """ParsedReports made directly (no spaCy): words with random coarse POS (PROPN included, for
    any word), punctuation, blank-line tokens, sentences of random length that need not agree with
    the punctuation, varied whitespace — a quarter of the tokens touch the next one, so glued
    words are common."""
    n = draw(st.integers(min_tokens, max_tokens))
    tokens: list[str] = []
    pos: list[str] = []
    for _ in range(n):
        choice = draw(st.integers(0, 11))
        if choice < 2:
            tokens.append(draw(st.sampled_from(PUNCTUATION)))
            pos.append("PUNCT")
        elif choice == 2:
            tokens.append("\n\n")
            pos.append("SPACE")
        else:
            tokens.append(draw(words()))
            pos.append(draw(st.sampled_from(COARSE_POS)))
    whitespace = [draw(st.sampled_from((" ", " ", "", "\n"))) for _ in range(n)]
    starts = [i == 0 or draw(st.integers(0, 6)) == 0 for i in range(n)]
    sent_ids = [sum(starts[: i + 1]) - 1 for i in range(n)]
    return ParsedReport(
        tokens=tuple(tokens),
        whitespace=tuple(whitespace),
        tags=tuple(pos),
        pos=tuple(pos),
        sent_ids=tuple(sent_ids),
    )


def check_batch_matches_single(
    reports: Sequence[ParsedReport], kinds: Sequence[str], *, seed: int, scope: str = "report", draws: int = 1
) -> None:
    """`apply_batch` gives every report exactly what `apply` gives it alone — the contract a batch
    kernel (`perturb.batch.kernels`) must keep — and so does any split of the batch."""
    keys = [f"record-{i}" for i in range(len(reports))]
    batch = apply_batch(reports, kinds, seed=seed, keys=keys, draws=draws, scope=scope)
    for report, key, results in zip(reports, keys, batch):
        for result in results:
            single = apply(report, result.kind, seed=seed, scope=scope, key=key, draw=result.draw)
            assert result == single, f"{result.kind}: batch gave {result.text!r}, alone {single.text!r}"
            assert result.tokens == single.tokens and result.source_index == single.source_index
    half = len(reports) // 2
    split = apply_batch(reports[half:], kinds, seed=seed, keys=keys[half:], draws=draws, scope=scope)
    assert split == batch[half:], "a report's results depend on the other reports in its batch"


def check_kernel_matches_reference(
    reports: Sequence[ParsedReport], kinds: Sequence[str], *, seed: int, scope: str = "report", draws: int = 1
) -> None:
    """Each kind's batch kernel, run on one report as `apply` runs it, gives exactly what the
    kind's per-report reference gives (redraws included)."""
    for kind in kinds:
        spec = get(kind)
        if spec.batch is None:
            continue
        reference = dataclasses.replace(spec, batch=None)
        for i, report in enumerate(reports):
            key = key_hash(f"record-{i}")
            for draw in range(draws):
                fast = apply_spec(report, spec, seed, key, draw, scope)
                slow = apply_spec(report, reference, seed, key, draw, scope)
                assert fast == slow, f"{kind}: the kernel gave {fast.text!r}, the reference {slow.text!r}"
                assert fast.tokens == slow.tokens and fast.source_index == slow.source_index


__all__ = [
    "check_batch_matches_single",
    "check_invariants",
    "check_kernel_matches_reference",
    "parsed_reports",
    "words",
]

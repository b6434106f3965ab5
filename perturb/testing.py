"""Hypothesis strategies and invariant checkers, exported so that users can property-test their
own perturbations exactly as radperturb tests its nine.

Each `check_*` raises `AssertionError` with a message naming the broken invariant; `check_invariants`
runs every check that applies to a perturbation's spec. The strategies generate what real reports
hold and taggers get wrong: glued words ("left" "-" "sided", "patient" "'s"), sentence starts the
parse does not mark, capitalised words tagged PROPN, acronyms, digits and quotes at sentence starts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hypothesis import strategies as st

from perturb.antonyms import antonym_of
from perturb.apply import apply
from perturb.batch import apply_batch
from perturb.clinical.testing import CLINICAL_CHECKS
from perturb.leaks import casing_anomalies, word_forms
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get
from perturb.result import PerturbationResult
from perturb.words import SEPARATORS

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


def _lower(tokens: tuple[str, ...] | list[str]) -> list[str]:
    return [t.lower() for t in tokens]


def check_original_as_written(report: ParsedReport) -> None:
    """The case rule renders an original exactly as it was written."""
    written = "".join(t + w for t, w in zip(report.tokens, report.whitespace))
    assert report.text == written, f"the original renders as {report.text!r}, not as written {written!r}"


def check_token_count(report: ParsedReport, result: PerturbationResult) -> None:
    assert len(result.tokens) == len(report.tokens), (
        f"{result.kind}: token count changed {len(report.tokens)} → {len(result.tokens)}"
    )


def check_word_multiset(report: ParsedReport, result: PerturbationResult) -> None:
    """The written words (`result.tokens` holds each at its slot, "" at its other tokens), case-
    folded, are the original's."""
    assert Counter(_lower(result.tokens)) == Counter(_lower(report.layout.tokens)), (
        f"{result.kind}: the (case-folded) word multiset changed"
    )


def check_written_words_whole(report: ParsedReport, result: PerturbationResult) -> None:
    """The text's word forms (`perturb.leaks.word_forms`), case-folded, are the original's: glued
    tokens ("left-sided", "patient's", "cannot") moved as one and nothing moved into a glued slot."""
    ours, theirs = Counter(word_forms(result.text)), Counter(word_forms(report.text))
    assert ours == theirs, (
        f"{result.kind}: written words broken or glued: {sorted((ours - theirs).elements())} appeared, "
        f"{sorted((theirs - ours).elements())} went"
    )


def check_casing(report: ParsedReport, result: PerturbationResult) -> None:
    """No more lower-case sentence starts and no more capitals inside sentences than the original
    (`perturb.leaks.casing_anomalies`): case belongs to the slot. Not checked where a word token
    carries a separator of its own ("Dr.", "e.g.", '"a'): moving it moves a sentence break or the
    letter a reader sees first, which no rule of slots can follow."""
    layout = report.layout
    carried = (report.tokens[i] for slot in layout.words for i in range(*layout.span(slot)))
    if any(ch in SEPARATORS for token in carried for ch in token):
        return
    ours, theirs = casing_anomalies(result.text), casing_anomalies(report.text)
    assert ours.lower_starts <= theirs.lower_starts, (
        f"{result.kind}: {ours.lower_starts} sentence starts in lower case, the original has "
        f"{theirs.lower_starts}: {result.text!r}"
    )
    assert ours.inner_capitals <= theirs.inner_capitals, (
        f"{result.kind}: {ours.inner_capitals} capitals inside sentences, the original has "
        f"{theirs.inner_capitals}: {result.text!r}"
    )


def check_punctuation_fixed(report: ParsedReport, result: PerturbationResult) -> None:
    words = set(report.layout.words)
    for i, j in enumerate(result.source_index):
        assert i in words or i == j, f"{result.kind}: non-word token {report.tokens[i]!r} moved"
        assert (i in words) == (j in words), f"{result.kind}: a word and a non-word swapped places"


def check_differs(report: ParsedReport, result: PerturbationResult) -> None:
    if result.applicable:
        assert result.text != report.text, f"{result.kind}: applicable but identical to the original"
    else:
        assert result.text == report.text and not result.moved, (
            f"{result.kind}: not applicable but changed the text"
        )


def check_pos_classes(report: ParsedReport, result: PerturbationResult, spec: PerturbationSpec) -> None:
    """Only the targeted POS classes move, each among its own slots; other words stay."""
    if spec.moves_pos is None:
        return
    for i, j in enumerate(result.source_index):
        if i == j:
            continue
        shared = [c for c in spec.moves_pos if report.pos[i] in c and report.pos[j] in c]
        assert shared, (
            f"{result.kind}: {report.tokens[j]!r} ({report.pos[j]}) moved into a "
            f"{report.pos[i]} slot"
        )


def check_sentences_kept(report: ParsedReport, result: PerturbationResult) -> None:
    ids = report.sent_ids
    for i, j in enumerate(result.source_index):
        assert ids[i] == ids[j], f"{result.kind}: a word crossed a sentence boundary"


def _scope_groups(report: ParsedReport, scope: str) -> tuple[tuple[int, ...], ...]:
    return report.layout.groups(scope)


def check_within_trigrams(report: ParsedReport, result: PerturbationResult, scope: str) -> None:
    src = result.source_index
    for group in _scope_groups(report, scope):
        for k in range(0, len(group), 3):
            chunk = group[k : k + 3]
            assert sorted(src[p] for p in chunk) == sorted(chunk), (
                f"{result.kind}: a word left its trigram"
            )


def check_trigrams_whole(report: ParsedReport, result: PerturbationResult, scope: str) -> None:
    src = result.source_index
    for group in _scope_groups(report, scope):
        chunks = {group[k : k + 3] for k in range(0, len(group), 3)}
        sequence = [src[p] for p in group]
        k = 0
        while k < len(sequence):
            match = next((c for c in chunks if tuple(sequence[k : k + len(c)]) == c), None)
            assert match is not None, f"{result.kind}: a trigram was broken apart"
            chunks.discard(match)
            k += len(match)


def as_report(report: ParsedReport, result: PerturbationResult) -> ParsedReport:
    """The perturbed text as a ParsedReport (tags travel with their words), to re-apply to."""
    src = result.source_index
    return ParsedReport(
        tokens=result.tokens,
        whitespace=report.whitespace,
        tags=tuple(report.tags[j] for j in src),
        pos=tuple(report.pos[j] for j in src),
        sent_ids=report.sent_ids,
    )


def check_involution(
    report: ParsedReport, result: PerturbationResult, scope: str, seed: int = 0
) -> None:
    """Applying the perturbation to its own output gives back the original words."""
    if not result.applicable:
        return
    again = apply(as_report(report, result), result.kind, seed=seed, scope=scope)
    back = again.tokens if again.applicable else result.tokens
    assert _lower(back) == _lower(report.layout.tokens), f"{result.kind}: not an involution"


def check_antonyms(report: ParsedReport, result: PerturbationResult) -> None:
    """Replacements touch adjectives only, each to its lexicon partner within its written word
    ("left-sided" → "right-sided"); nothing moves."""
    assert not result.moved, f"{result.kind}: words moved"
    layout = report.layout
    replaced = {r.position for r in result.replacements}
    for r in result.replacements:
        assert report.pos[r.position] == "ADJ", f"{result.kind}: replaced non-adjective {r.old!r}"
        partner = antonym_of(report.tokens[r.position].lower())
        assert partner is not None, f"{result.kind}: {report.tokens[r.position]!r} has no antonym"
        start, end = layout.span(r.position)
        expected = "".join(partner if i == r.position else report.tokens[i] for i in range(start, end))
        assert r.old == layout.tokens[r.position] and r.new.lower() == expected.lower(), (
            f"{result.kind}: {r.old!r} → {r.new!r} is not its antonym {expected!r}"
        )
    for i, (a, b) in enumerate(zip(layout.tokens, result.tokens)):
        if i not in replaced:
            assert a.lower() == b.lower(), f"{result.kind}: {a!r} changed without a replacement"


#: Structural checks of the paper's kinds beyond the generic ones, by name.
SPECIFIC_CHECKS = {
    "shuffle_within_trigrams": lambda r, res, scope, seed: check_within_trigrams(r, res, scope),
    "shuffle_trigrams": lambda r, res, scope, seed: check_trigrams_whole(r, res, scope),
    "reverse_sentence": check_involution,
    "swap_adjacent_words": check_involution,
    "replace_adjectives_with_antonyms": lambda r, res, scope, seed: check_antonyms(r, res),
    **CLINICAL_CHECKS,  # only the mention changes, and undoing it restores the original
}


def check_invariants(
    report: ParsedReport, result: PerturbationResult, *, scope: str = "report", seed: int = 0
) -> None:
    """Every invariant that applies to `result.kind`'s spec."""
    spec = get(result.kind)
    check_original_as_written(report)
    check_token_count(report, result)
    check_differs(report, result)
    check_punctuation_fixed(report, result)
    check_casing(report, result)
    if spec.word_preserving:
        check_word_multiset(report, result)
        check_written_words_whole(report, result)
    check_pos_classes(report, result, spec)
    if scope == "sentence":
        check_sentences_kept(report, result)
    specific = SPECIFIC_CHECKS.get(result.kind)
    if specific is not None:
        specific(report, result, scope, seed)


def check_batch_matches_single(
    reports: Sequence[ParsedReport], kinds: Sequence[str], *, seed: int, scope: str = "report", draws: int = 1
) -> None:
    """`apply_batch` gives every report exactly what `apply` gives it alone — the contract a batch
    kernel (`perturb.kernels`) must keep — and so does any split of the batch."""
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

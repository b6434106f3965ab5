"""Invariant checks of perturbation results, for the engine's own kinds and users' alike.

Each `check_*` raises `AssertionError` with a message naming the broken invariant;
`check_invariants` runs every generic check that applies to a perturbation's spec, then the
kind's own (`PerturbationSpec.check`, declared at registration). Hypothesis strategies that
generate reports to run them on are in `perturb.testing`.
"""

from __future__ import annotations

from collections import Counter

from perturb.apply import apply
from perturb.leaks import casing_anomalies, word_forms
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get
from perturb.rendering import join
from perturb.result import PerturbationResult
from perturb.words import SEPARATORS


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


def check_tokens_spell_text(report: ParsedReport, result: PerturbationResult) -> None:
    """The result's tokens, joined with the report's whitespace, are its text: the per-token view
    (`perturb.rendering.render_tokens`) and the renderer agree."""
    assert join(result.tokens, report.whitespace) == result.text, f"{result.kind}: tokens do not spell the text"


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


def check_invariants(
    report: ParsedReport, result: PerturbationResult, *, scope: str = "report", seed: int = 0
) -> None:
    """Every invariant that applies to `result.kind`'s spec."""
    spec = get(result.kind)
    check_original_as_written(report)
    check_token_count(report, result)
    check_tokens_spell_text(report, result)
    check_differs(report, result)
    check_punctuation_fixed(report, result)
    check_casing(report, result)
    if spec.word_preserving:
        check_word_multiset(report, result)
        check_written_words_whole(report, result)
    check_pos_classes(report, result, spec)
    if scope == "sentence":
        check_sentences_kept(report, result)
    if spec.check is not None:
        spec.check(report, result, scope, seed)

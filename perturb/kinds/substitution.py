"""The substitution kind of the paper: adjectives replaced by their antonyms.

Not word-preserving: the words change, nothing moves. The candidates are the report's
adjectives with a partner in the lexicon (`perturb.kinds.antonyms`), whatever the scope.
"""

from __future__ import annotations

import numpy as np

from perturb.batch.arrays import exclusive_cumsum
from perturb.batch.candidates import Candidates, Substitute
from perturb.batch.kernels import PackedEdit
from perturb.batch.pack import Pack
from perturb.kinds.antonyms import antonym_of
from perturb.kinds.pos import ADJECTIVES
from perturb.noise import ReportNoise, counter_steps, noise
from perturb.parsed import ParsedReport
from perturb.registry import Edit, kernel_for, register
from perturb.result import PerturbationResult


def antonym_candidates(report: ParsedReport) -> list[tuple[int, str]]:
    """(slot, partner) for every adjective with a lexicon partner, in position order."""
    tokens, pos = report.tokens, report.pos
    return [
        (slot, partner)
        for slot in report.layout.words
        if pos[slot] in ADJECTIVES and (partner := antonym_of(tokens[slot].lower())) is not None
    ]


def check_antonyms(report: ParsedReport, result: PerturbationResult, scope: str, seed: int) -> None:
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


@register(
    "replace_adjectives_with_antonyms",
    description="Replace a random non-empty subset of adjectives with their antonyms "
    "(clinical lexicon; WordNet too when its data is installed).",
    word_preserving=False,
    needs=("pos",),
    check=check_antonyms,
)
def replace_adjectives_with_antonyms(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    """Each candidate is replaced when the top bit of its noise is set (its noise key: its index
    among the candidates); when none is, the candidate with the largest noise is."""
    candidates = antonym_candidates(report)
    if not candidates:
        return None
    noise_of = ReportNoise(rng)
    values = [noise_of(k) for k in range(len(candidates))]
    chosen = [value >> 63 == 1 for value in values]
    if not any(chosen):
        chosen = [value == max(values) for value in values]
    return Edit(report.layout.identity, {slot: partner for (slot, partner), c in zip(candidates, chosen) if c})


@kernel_for("replace_adjectives_with_antonyms")
def replace_adjectives_with_antonyms_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    candidates = Candidates.of(pack, antonym_candidates)
    counts, starts, steps = candidates.derived(_candidate_noise_steps, len(pack))
    report_of = candidates.report_of
    applicable = counts > 0
    chosen = np.zeros(len(report_of), dtype=bool)
    if len(report_of):
        values = noise(stream, report_of, steps)
        chosen = (values >> np.uint64(63)).astype(bool)
        segments = starts[applicable]
        fallback = np.zeros(len(pack), dtype=bool)
        fallback[applicable] = ~np.logical_or.reduceat(chosen, segments)
        top = np.zeros(len(pack), dtype=np.uint64)
        top[applicable] = np.maximum.reduceat(values, segments)
        chosen |= fallback[report_of] & (values == top[report_of])
    return PackedEdit(pack.identity, Substitute(candidates, chosen), applicable)


def _candidate_noise_steps(candidates: Candidates, n_reports: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per report its candidate count and first candidate; per candidate its noise step (its
    index among its report's candidates)."""
    counts = np.bincount(candidates.report_of, minlength=n_reports)
    starts = exclusive_cumsum(counts)
    return counts, starts, counter_steps(np.arange(len(candidates.report_of)) - starts[candidates.report_of])

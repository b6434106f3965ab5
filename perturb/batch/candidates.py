"""Word replacements in a pack: the `Candidates` a kernel may pick from and the `Substitute` a
draw makes — the one form in which a kernel returns replacements (`PackedEdit.replacements`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from perturb.memo import Memo
from perturb.parsed import ParsedReport
from perturb.rendering import replaced_words
from perturb.result import Replacement

if TYPE_CHECKING:
    from perturb.batch.pack import Pack
    from perturb.layout import Layout

_NO_POSITIONS = np.zeros(0, dtype=np.int64)
#: A report's candidate replacements: (token position, new word) pairs in position order.
FindCandidates = Callable[[ParsedReport], Sequence[tuple[int, str]]]


class ReportCandidates(NamedTuple):
    """One report's candidates, one per written word they touch: its slot (local position), its
    token replacements, its `Replacement` (the written word before and after) and what the
    renderer writes at the slot (that word and the slot's whitespace)."""

    positions: np.ndarray
    edits: list[tuple[tuple[int, str], ...]]
    replacements: list[Replacement]
    pieces: list[str]

    @classmethod
    def of(cls, report: ParsedReport, pairs: Sequence[tuple[int, str]]) -> ReportCandidates:
        layout = report.layout
        by_slot: dict[int, list[tuple[int, str]]] = {}
        for position, word in pairs:
            by_slot.setdefault(layout.head[position], []).append((position, word))
        written = replaced_words(report, dict(pairs))
        return cls(
            np.array(list(written), dtype=np.int64),
            [tuple(by_slot[slot]) for slot in written],
            [Replacement(slot, layout.tokens[slot], new) for slot, new in written.items()],
            [new + report.whitespace[slot] for slot, new in written.items()],
        )


def _report_candidates(layout: Layout, find: FindCandidates) -> ReportCandidates:
    return ReportCandidates.of(layout.report, find(layout.report))


class Candidates(Memo):
    """Word replacements a kernel may make in a pack, one candidate per written word, in global
    position order: candidate k makes the token replacements `edits[k]` (local position → new
    word) in the written word at global slot `positions[k]` (`local[k]` in its report) of report
    `report_of[k]`; `replacements[k]` says so as the result reports it and `pieces[k]` is what
    the renderer writes there. A draw picks some with a boolean mask (`Substitute`)."""

    __slots__ = ("positions", "local", "report_of", "edits", "replacements", "pieces", "_memo")

    def __init__(self, pack: Pack, parts: Sequence[ReportCandidates]) -> None:
        counts = np.fromiter((len(part.edits) for part in parts), np.int64, len(parts))
        self.local = np.concatenate([_NO_POSITIONS, *(part.positions for part in parts)])
        self.report_of = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
        self.positions = self.local + pack.starts[self.report_of]
        self.edits = list(chain.from_iterable(part.edits for part in parts))
        self.replacements = list(chain.from_iterable(part.replacements for part in parts))
        self.pieces = list(chain.from_iterable(part.pieces for part in parts))
        self._memo: dict[tuple[object, ...], object] = {}

    @classmethod
    def of(cls, pack: Pack, find: FindCandidates) -> Candidates:
        """`find` on every report of `pack`; per report kept on its layout, since every draw of
        every pack it is in picks among the same candidates."""
        return pack.derived(_pack_candidates, find)


def _pack_candidates(pack: Pack, find: FindCandidates) -> Candidates:
    return Candidates(pack, [layout.derived(_report_candidates, find) for layout in pack.layouts])


class Substitute(NamedTuple):
    """The candidates a draw replaces: `chosen[k]` for candidate k."""

    candidates: Candidates
    chosen: np.ndarray

    @classmethod
    def of(cls, pack: Pack, replacements: Sequence[Mapping[int, str] | None]) -> Substitute:
        """Per-report mappings (local position → new word) as candidates that are all chosen."""
        parts = [
            ReportCandidates.of(layout.report, sorted((replaced or {}).items()))
            for layout, replaced in zip(pack.layouts, replacements)
        ]
        candidates = Candidates(pack, parts)
        return cls(candidates, np.ones(len(candidates.edits), dtype=bool))

    def per_report(self, n_reports: int) -> list[tuple[Replacement, ...]]:
        """The chosen candidates' `Replacement`s, report by report."""
        picked = np.flatnonzero(self.chosen)
        ends = np.cumsum(np.bincount(self.candidates.report_of[picked], minlength=n_reports)).tolist()
        made = [self.candidates.replacements[k] for k in picked.tolist()]
        return [tuple(made[a:b]) for a, b in zip([0, *ends], ends)]

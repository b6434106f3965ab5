"""`Pack`: many reports laid end to end, so that one numpy call perturbs all of them.

Token positions, units and trigrams are offset report by report; each word keeps its report
(`owner`) and its counter within that report, which is all its random noise depends on. A
perturbation written against `Pack.units` therefore gives every report the same result whether it
is packed alone (the per-report `apply`) or with thousands of others (`apply_batch`).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping, Sequence
from itertools import chain, pairwise
from typing import NamedTuple

import numpy as np

from perturb.layout import SCOPES, Layout
from perturb.memo import Memo
from perturb.parsed import ParsedReport
from perturb.registry import PosClass
from perturb.rendering import written_with
from perturb.result import Replacement
from perturb.units import WORD_ROWS, Units, counting, exclusive_cumsum

_FIRST = np.zeros(1, dtype=np.int64)
_NO_POSITIONS = np.zeros(0, dtype=np.int64)
#: A report's candidate replacements: (token position, new word) pairs in position order.
FindCandidates = Callable[[ParsedReport], Sequence[tuple[int, str]]]


class _ReportCandidates(NamedTuple):
    """One report's candidates, one per written word they touch: its slot (local position), its
    token replacements, its `Replacement` (the written word before and after) and the bytes the
    renderer writes at the slot (that word and the slot's whitespace)."""

    positions: np.ndarray
    edits: list[tuple[tuple[int, str], ...]]
    replacements: list[Replacement]
    pieces: list[bytes]

    @classmethod
    def of(cls, report: ParsedReport, pairs: Sequence[tuple[int, str]]) -> _ReportCandidates:
        layout = report.layout
        by_slot: dict[int, list[tuple[int, str]]] = {}
        for position, word in pairs:
            by_slot.setdefault(layout.head[position], []).append((position, word))
        slots = sorted(by_slot)
        edits = [tuple(by_slot[slot]) for slot in slots]
        written = [written_with(report, slot, dict(edit)) for slot, edit in zip(slots, edits)]
        return cls(
            np.array(slots, dtype=np.int64),
            edits,
            [Replacement(slot, layout.tokens[slot], new) for slot, new in zip(slots, written)],
            [(new + report.whitespace[slot]).encode("utf-8", "surrogatepass") for slot, new in zip(slots, written)],
        )


class Candidates(Memo):
    """Word replacements a kernel may make in a pack, one candidate per written word, in global
    position order: candidate k makes the token replacements `edits[k]` (local position → new
    word) in the written word at global slot `positions[k]` (`local[k]` in its report) of report
    `owner[k]`; `replacements[k]` says so as the result reports it and `pieces[k]` is what the
    renderer writes there. A draw picks some with a boolean mask (`Substitute`)."""

    __slots__ = ("positions", "local", "owner", "edits", "replacements", "pieces", "_memo")

    def __init__(self, pack: Pack, parts: Sequence[_ReportCandidates]) -> None:
        counts = np.fromiter((len(part.edits) for part in parts), np.int64, len(parts))
        self.local = np.concatenate([_NO_POSITIONS, *(part.positions for part in parts)])
        self.owner = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
        self.positions = self.local + pack.starts[self.owner]
        self.edits = list(chain.from_iterable(part.edits for part in parts))
        self.replacements = list(chain.from_iterable(part.replacements for part in parts))
        self.pieces = list(chain.from_iterable(part.pieces for part in parts))
        self._memo: dict[object, object] = {}

    @classmethod
    def of(cls, pack: Pack, find: FindCandidates) -> Candidates:
        """`find` on every report of `pack`; per report remembered on its layout, since every draw
        of every pack it is in picks among the same candidates."""

        def per_report(layout: Layout) -> _ReportCandidates:
            return layout.memo(("candidates", find), lambda: _ReportCandidates.of(layout.report, find(layout.report)))

        return pack.memo(("candidates", find), lambda: cls(pack, [per_report(layout) for layout in pack.layouts]))


class Substitute(NamedTuple):
    """The candidates a draw replaces: `chosen[k]` for candidate k."""

    candidates: Candidates
    chosen: np.ndarray

    @classmethod
    def of(cls, pack: Pack, replacements: Sequence[Mapping[int, str] | None]) -> Substitute:
        """Per-report mappings (local position → new word) as candidates that are all chosen."""
        parts = [
            _ReportCandidates.of(layout.report, sorted((replaced or {}).items()))
            for layout, replaced in zip(pack.layouts, replacements)
        ]
        candidates = Candidates(pack, parts)
        return cls(candidates, np.ones(len(candidates.edits), dtype=bool))

    def per_report(self, n_reports: int) -> list[tuple[Replacement, ...]]:
        """The chosen candidates' `Replacement`s, report by report."""
        picked = np.flatnonzero(self.chosen)
        ends = np.cumsum(np.bincount(self.candidates.owner[picked], minlength=n_reports)).tolist()
        made = [self.candidates.replacements[k] for k in picked.tolist()]
        return [tuple(made[a:b]) for a, b in zip([0, *ends], ends)]

    def mapping(self, report: int) -> dict[int, str]:
        """Report `report`'s chosen token replacements as local position → new word."""
        picked = np.flatnonzero(self.chosen & (self.candidates.owner == report)).tolist()
        return {position: word for k in picked for position, word in self.candidates.edits[k]}


class Pack(Memo):
    """Reports end to end: `starts[r]` is the first global token position of report r."""

    __slots__ = (
        "reports", "layouts", "starts", "sizes", "n_tokens", "_rows", "_units", "_render", "_memo",
        "_bounds", "_texts",
    )

    def __init__(self, reports: Sequence[ParsedReport]) -> None:
        self.reports = tuple(reports)
        self.layouts: tuple[Layout, ...] = tuple(r.layout for r in self.reports)
        if len(self.layouts) == 1:  # `apply` packs one report per call: skip the bookkeeping
            self.n_tokens = self.layouts[0].n
            self.sizes, self.starts = np.array([self.n_tokens]), _FIRST
        else:
            self.sizes = np.fromiter((layout.n for layout in self.layouts), np.int64, len(self.layouts))
            self.starts = exclusive_cumsum(self.sizes)
            self.n_tokens = int(self.sizes.sum())
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None
        self._units: dict[tuple[str, tuple[PosClass, ...] | None], Units] = {}
        self._render: tuple[np.ndarray, ...] | None = None
        self._memo: dict[object, object] = {}
        self._bounds: list[int] | None = None
        self._texts: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.reports)

    @property
    def bounds(self) -> list[int]:
        """Report r's tokens are global positions `bounds[r]` to `bounds[r + 1]`."""
        if self._bounds is None:
            self._bounds = self._bound_array().tolist()
        return self._bounds

    def _bound_array(self) -> np.ndarray:
        return self.memo("bounds", lambda: np.append(self.starts, self.n_tokens))

    @property
    def original_texts(self) -> tuple[str, ...]:
        if self._texts is None:
            self._texts = tuple(layout.text for layout in self.layouts)
        return self._texts

    @property
    def identity(self) -> np.ndarray:
        """Every token from its own position: the edit that changes nothing (a fresh array)."""
        return counting(self.n_tokens).copy()

    def units(self, scope: str, classes: PosClass | tuple[PosClass, ...] | None = None) -> Units:
        """`Layout.units` of every report, in one index space (cached)."""
        if isinstance(classes, PosClass):
            classes = (classes,)
        if len(self.layouts) == 1:
            return self.layouts[0].units(scope, classes)
        key = (scope, classes)
        hit = self._units.get(key)
        if hit is None:
            if scope not in SCOPES:
                raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")
            rows, owner, sentence_start, n_sentences = self._word_rows()
            hit = self._units[key] = Units(rows, owner, self.starts, sentence_start, n_sentences, scope, classes)
        return hit

    def _word_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        if self._rows is None:
            count = len(self.layouts)
            words = np.fromiter((len(layout.words) for layout in self.layouts), np.int64, count)
            sentences = np.fromiter((len(layout.sentences) for layout in self.layouts), np.int64, count)
            none = np.zeros((WORD_ROWS, 0), np.int64)  # so that a pack of no reports has rows too
            rows = np.concatenate([none, *(layout.word_rows for layout in self.layouts)], axis=1)
            owner = np.repeat(np.arange(count, dtype=np.int64), words)
            self._rows = (rows, owner, exclusive_cumsum(sentences), int(sentences.sum()))
        return self._rows

    def _table(self) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
        """Every report's `Layout.table_bytes` end to end: the bytes, each entry's start and length,
        and each global position's shift (`source_index + shift` is the entry to write there)."""
        if self._render is None:
            blobs = [layout.table_bytes for layout in self.layouts]
            lengths = np.concatenate([n for _, n, _ in blobs]) if blobs else np.zeros(0, np.int64)
            entries_before = exclusive_cumsum(np.fromiter((len(n) for _, n, _ in blobs), np.int64, len(blobs)))
            shift = (np.concatenate([s for _, _, s in blobs]) if blobs else np.zeros(0, np.int64)) + np.repeat(
                entries_before - self.starts, self.sizes
            )
            table = b"".join(blob for blob, _, _ in blobs)
            self._render = (table, exclusive_cumsum(lengths), lengths, shift)
        return self._render

    def _table_with(self, candidates: Candidates) -> tuple[bytes, np.ndarray, np.ndarray]:
        """The table with every candidate's piece appended after the reports' entries."""

        def extend() -> tuple[bytes, np.ndarray, np.ndarray]:
            table, entry_start, lengths, _ = self._table()
            added = np.fromiter(map(len, candidates.pieces), np.int64, len(candidates.pieces))
            return (
                table + b"".join(candidates.pieces),
                np.append(entry_start, len(table) + exclusive_cumsum(added)),
                np.append(lengths, added),
            )

        return candidates.memo("table", extend)

    def render(self, source_index: np.ndarray, substitute: Substitute | None = None) -> list[str]:
        """Every report's text from one gather of bytes: position g gets the word from
        `source_index[g]` in g's case, then g's own whitespace (`Layout.table_bytes`), except
        where `substitute` puts a chosen candidate's piece instead."""
        table, entry_start, lengths, shift = self._table()
        entries = source_index + shift
        if substitute is not None and substitute[1].any():
            candidates, chosen = substitute
            table, entry_start, lengths = self._table_with(candidates)
            picked = np.flatnonzero(chosen)
            entries[candidates.positions[picked]] = len(lengths) - len(chosen) + picked
        piece_lengths = lengths.take(entries)
        ends = np.zeros(self.n_tokens + 1, dtype=np.int64)
        np.cumsum(piece_lengths, out=ends[1:])
        index = np.repeat(entry_start.take(entries) - ends[:-1], piece_lengths)
        index += counting(len(index))
        out = np.frombuffer(table, dtype=np.uint8).take(index)
        bounds = ends.take(self._bound_array()).tolist()
        try:  # ASCII, as reports nearly always are: byte offsets are character offsets, decode once
            text = codecs.ascii_decode(out)[0]
        except UnicodeDecodeError:
            raw = out.tobytes()
            return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in pairwise(bounds)]
        return [text[a:b] for a, b in pairwise(bounds)]

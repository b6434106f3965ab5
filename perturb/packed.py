"""`Pack`: many reports laid end to end, so that one numpy call perturbs all of them.

Token positions, units and trigrams are offset report by report; each word keeps its report
(`owner`) and its counter within that report, which is all its random noise depends on. A
perturbation written against `Pack.units` therefore gives every report the same result whether it
is packed alone (the per-report `apply`) or with thousands of others (`apply_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perturb.layout import SCOPES, Layout
from perturb.memo import Memo
from perturb.parsed import ParsedReport
from perturb.registry import PosClass
from perturb.units import WORD_ROWS, Units, exclusive_cumsum

_FIRST = np.zeros(1, dtype=np.int64)


class Pack(Memo):
    """Reports end to end: `starts[r]` is the first global token position of report r."""

    __slots__ = (
        "reports", "layouts", "starts", "sizes", "n_tokens", "_rows", "_units", "_render", "_memo",
        "_token_starts", "_bounds", "_texts",
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
        self._token_starts: np.ndarray | None = None
        self._bounds: list[int] | None = None
        self._texts: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.reports)

    @property
    def token_starts(self) -> np.ndarray:
        """For each global position, the first global position of its report."""
        if self._token_starts is None:
            self._token_starts = np.repeat(self.starts, self.sizes)
        return self._token_starts

    @property
    def bounds(self) -> list[int]:
        """Report r's tokens are global positions `bounds[r]` to `bounds[r + 1]`."""
        if self._bounds is None:
            self._bounds = np.append(self.starts, self.n_tokens).tolist()
        return self._bounds

    @property
    def original_texts(self) -> tuple[str, ...]:
        if self._texts is None:
            self._texts = tuple(layout.text for layout in self.layouts)
        return self._texts

    @property
    def identity(self) -> np.ndarray:
        """Every token from its own position: the edit that changes nothing (a fresh array)."""
        return np.arange(self.n_tokens, dtype=np.intp)

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

    def render(self, source_index: np.ndarray, rewrites: Sequence[tuple[int, bytes]] = ()) -> list[str]:
        """Every report's text from one gather of bytes: position g gets the word from
        `source_index[g]` in g's case, then g's own whitespace (`Layout.table_bytes`), except
        that each (g, bytes) of `rewrites` (replaced words) writes those bytes at g instead:
        they are appended to the table for this call."""
        if self._render is None:
            blobs = [layout.table_bytes for layout in self.layouts]
            lengths = np.concatenate([n for _, n, _ in blobs]) if blobs else np.zeros(0, np.int64)
            entries_before = exclusive_cumsum(np.fromiter((len(n) for _, n, _ in blobs), np.int64, len(blobs)))
            shift = (np.concatenate([s for _, _, s in blobs]) if blobs else np.zeros(0, np.int64)) + np.repeat(
                entries_before - self.starts, self.sizes
            )
            table = b"".join(blob for blob, _, _ in blobs)
            self._render = (table, exclusive_cumsum(lengths), lengths, shift)
        table, entry_start, lengths, shift = self._render
        entries = source_index + shift
        if rewrites:
            added = np.fromiter((len(b) for _, b in rewrites), np.int64, len(rewrites))
            where = np.fromiter((g for g, _ in rewrites), np.int64, len(rewrites))
            entries[where] = len(lengths) + np.arange(len(rewrites))
            entry_start = np.append(entry_start, len(table) + exclusive_cumsum(added))
            lengths = np.append(lengths, added)
            table = table + b"".join(b for _, b in rewrites)
        piece_lengths = lengths.take(entries)
        ends = np.zeros(self.n_tokens + 1, dtype=np.int64)
        np.cumsum(piece_lengths, out=ends[1:])
        narrow = np.int32 if max(len(table), int(ends[-1])) < 1 << 31 else np.int64  # halves the memory traffic
        index = np.repeat((entry_start.take(entries) - ends[:-1]).astype(narrow), piece_lengths)
        index += np.arange(len(index), dtype=narrow)
        out = np.frombuffer(table, dtype=np.uint8).take(index).tobytes()
        bounds = ends[np.append(self.starts, self.n_tokens)].tolist()
        return [out[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds, bounds[1:])]

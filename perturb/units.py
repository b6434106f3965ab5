"""`Units`: the words of a perturbation scope grouped into the units they move within.

Built by a few vectorised numpy operations from per-word rows (`WORD_ROWS`), so the same code
makes the units of one report (`Layout.units`) and of thousands laid end to end
(`perturb.packed.Pack.units`): a perturbation written against `Units` gives a report the same
result alone or packed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from perturb.memo import Memo
from perturb.noise import TRIGRAM_COUNTERS, counter_steps
from perturb.registry import PosClass

#: Rows of a report's per-word matrix: token position, sentence index (among sentences with
#: words), index among the report's words (what a word's random noise is keyed on), the code of
#: its coarse POS tag (`pos_code`), and its form: the same number for words that render alike
#: at every position (so that swapping them changes nothing).
POSITION, SENTENCE, COUNTER, POS_CODE, FORM = range(5)
WORD_ROWS = 5


class _Codes(dict):
    """A small integer per coarse POS tag, assigned on first sight (only compared within one
    process, never stored)."""

    def __missing__(self, tag: str) -> int:
        code = self[tag] = len(self)
        return code


_POS_CODES = _Codes()
#: `pos_code(tag)`: the code of a coarse POS tag (a dict lookup: it runs for every word).
pos_code = _POS_CODES.__getitem__


@lru_cache(maxsize=256)
def _class_of_code(classes: tuple[PosClass, ...], n_codes: int) -> np.ndarray:
    """For each of the first `n_codes` POS codes, the index of the first class containing its
    tag, or -1."""
    tags = sorted(_POS_CODES, key=_POS_CODES.get)
    return np.array([next((k for k, c in enumerate(classes) if tag in c), -1) for tag in tags], dtype=np.int64)


_COUNTING = np.arange(1 << 16, dtype=np.int64)


def counting(n: int) -> np.ndarray:
    """0, 1, ..., n-1 as a read-only view of one shared array (grown when too short): the
    renderer needs one as long as its output in bytes on every call, and filling it anew cost
    more than adding it."""
    global _COUNTING
    if len(_COUNTING) < n:
        _COUNTING = np.arange(max(n, 2 * len(_COUNTING)), dtype=np.int64)
        _COUNTING.flags.writeable = False
    return _COUNTING[:n]


_COUNTING.flags.writeable = False


def exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    """Where each count's run starts when the counts are laid end to end."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def stable_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """The stable sort order of non-negative integer `keys` below `bound` (radix sort when they
    fit in 16 bits)."""
    if bound <= 1 << 16:
        return keys.astype(np.uint16).argsort(kind="stable")
    return keys.argsort(kind="stable")


class Units(Memo):
    """Per word, grouped by unit and in position order within each: `positions` (token index),
    `unit` (the report, sentence or POS class within either that it moves within), `owner` (its
    report) and `counter` (its index among its report's words: its noise key); on first use,
    `rank`/`size` (its place in the unit and the unit's size), `chunk` (its trigram: consecutive
    triples within the unit) and `offset` (its place there), and per trigram `chunk_unit`,
    `chunk_owner` and `chunk_counter` (its index among its report's trigrams). Ids are uint64 so
    that noise and sort keys are built from them directly; `n_units`/`n_chunks` bound the ids."""

    __slots__ = (
        "positions", "unit", "owner", "counter", "form", "n_units", "n_reports", "_units", "_memo",
    )

    def __init__(
        self, rows: np.ndarray, owner: np.ndarray, token_start: np.ndarray, sentence_start: np.ndarray,
        n_sentences: int, scope: str, classes: tuple[PosClass, ...] | None,
    ) -> None:
        self.n_reports = len(token_start)
        if scope == "report":
            unit, n_units = owner, self.n_reports
        else:
            unit, n_units = rows[SENTENCE] + sentence_start[owner], n_sentences
        pick = None  # which words, in which order: each row is then gathered once
        if classes is not None:
            class_index = _class_of_code(classes, len(_POS_CODES))[rows[POS_CODE]]
            pick = np.flatnonzero(class_index >= 0)
            unit = class_index[pick] * n_units + unit[pick]
            n_units *= len(classes)
        if classes is not None or scope != "report":  # group the words by unit, in position order
            order = stable_order(unit, n_units)
            unit = unit[order]
            pick = order if pick is None else pick[order]
        if pick is not None:
            owner = owner[pick]
        self.owner, self._units, self.n_units = owner, unit, n_units
        self.positions = (rows[POSITION] if pick is None else rows[POSITION][pick]) + token_start[owner]
        self.form = rows[FORM] if pick is None else rows[FORM][pick]
        counter = rows[COUNTER].view(np.uint64)  # counters are never negative
        self.counter = counter if pick is None else counter[pick]
        self.unit = unit.astype(np.uint64)
        self._memo: dict[object, object] = {}

    @property
    def steps(self) -> np.ndarray:
        """Each word's place in its report's noise sequence (`perturb.noise.counter_steps`)."""
        return self.memo("steps", lambda: counter_steps(self.counter))

    @property
    def chunk_steps(self) -> np.ndarray:
        """Each trigram's place in its report's noise sequence, after every word's."""
        return self.memo("chunk_steps", lambda: counter_steps(self.chunk_counter + np.uint64(TRIGRAM_COUNTERS)))

    def can_change(self, by: str = "unit") -> np.ndarray:
        """Per report: whether permuting words within each unit (`by="unit"`) or trigram
        (`by="chunk"`) can change its text at all — some unit or trigram holds two words that
        render differently. Where it cannot, no draw differs from the original."""

        def compute() -> np.ndarray:
            group = self.unit if by == "unit" else self.chunk
            out = np.zeros(self.n_reports, dtype=bool)
            # a unit mixes forms exactly when two of its neighbouring words differ
            differs = (self.form[1:] != self.form[:-1]) & (group[1:] == group[:-1])
            out[self.owner[1:][differs]] = True
            return out

        return self.memo(("can_change", by), compute)

    def _counts(self) -> np.ndarray:
        return self.memo("counts", lambda: np.bincount(self._units, minlength=self.n_units))

    @property
    def size(self) -> np.ndarray:
        return self.memo("size", lambda: self._counts()[self._units])

    @property
    def rank(self) -> np.ndarray:
        return self.memo("rank", lambda: counting(len(self._units)) - exclusive_cumsum(self._counts())[self._units])

    @property
    def offset(self) -> np.ndarray:
        return self.memo("offset", lambda: self.rank % 3)

    def _trigrams(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
            per_unit = (self._counts() + 2) // 3
            chunk = (exclusive_cumsum(per_unit)[self._units] + self.rank // 3).astype(np.uint64)
            n_chunks = int(per_unit.sum())
            chunk_owner = self.owner[self.offset == 0]  # a trigram's first word, in trigram order
            order = stable_order(chunk_owner, self.n_reports)
            per_owner = np.bincount(chunk_owner, minlength=self.n_reports)
            counter = np.empty(n_chunks, dtype=np.int64)
            counter[order] = np.arange(n_chunks) - exclusive_cumsum(per_owner)[chunk_owner[order]]
            chunk_unit = np.repeat(np.arange(self.n_units, dtype=np.uint64), per_unit)
            return chunk, chunk_unit, chunk_owner, counter.astype(np.uint64), n_chunks

        return self.memo("trigrams", compute)

    @property
    def chunk(self) -> np.ndarray:
        return self._trigrams()[0]

    @property
    def chunk_unit(self) -> np.ndarray:
        return self._trigrams()[1]

    @property
    def chunk_owner(self) -> np.ndarray:
        return self._trigrams()[2]

    @property
    def chunk_counter(self) -> np.ndarray:
        return self._trigrams()[3]

    @property
    def n_chunks(self) -> int:
        return self._trigrams()[4]

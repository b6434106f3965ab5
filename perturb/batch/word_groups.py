"""`WordGroups`: the words of a perturbation scope grouped into the groups they move within.

Built by a few vectorised numpy operations from per-word rows (`perturb.layout.WORD_ROWS`), so
the same code makes the groups of one report and of thousands laid end to end
(`perturb.batch.pack.Pack.word_groups`): a kernel written against `WordGroups` gives a report the
same result alone or packed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from perturb.batch.arrays import counting, exclusive_cumsum, stable_order
from perturb.layout import COUNTER, FORM, POS_CODE, POS_CODES, POSITION, SENTENCE
from perturb.memo import Memo, memoized
from perturb.noise import TRIGRAM_COUNTERS, counter_steps
from perturb.scopes import PosClass


@lru_cache(maxsize=256)
def _class_of_code(classes: tuple[PosClass, ...], n_codes: int) -> np.ndarray:
    """For each of the first `n_codes` POS codes, the index of the first class containing its
    tag, or -1."""
    tags = sorted(POS_CODES, key=POS_CODES.get)
    return np.array([next((k for k, c in enumerate(classes) if tag in c), -1) for tag in tags], dtype=np.int64)


class WordGroups(Memo):
    """Per word, ordered by group and by position within each: `positions` (its token index),
    `group` (the report, sentence, or POS class within either that it moves within),
    `report_of` (its report) and `counter` (its index among its report's words: its noise key).
    Derived on first use: `group_size` and `rank_in_group`; its `trigram` (consecutive triples
    within the group) and `rank_in_trigram`; and per trigram `trigram_group`, `trigram_report` and
    `trigram_counter` (its index among its report's trigrams). Ids are uint64 so that noise and
    sort keys are built from them directly; `n_groups` / `n_trigrams` bound them."""

    __slots__ = (
        "positions", "group", "report_of", "counter", "form", "n_groups", "n_reports", "_group_index", "_memo",
    )

    def __init__(
        self, rows: np.ndarray, report_of: np.ndarray, token_start: np.ndarray, sentence_start: np.ndarray,
        n_sentences: int, scope: str, classes: tuple[PosClass, ...] | None,
    ) -> None:
        self.n_reports = len(token_start)
        if scope == "report":
            group, n_groups = report_of, self.n_reports
        else:
            group, n_groups = rows[SENTENCE] + sentence_start[report_of], n_sentences
        pick = None  # which words, in which order: each row is then gathered once
        if classes is not None:
            class_index = _class_of_code(classes, len(POS_CODES))[rows[POS_CODE]]
            pick = np.flatnonzero(class_index >= 0)
            group = class_index[pick] * n_groups + group[pick]
            n_groups *= len(classes)
        if classes is not None or scope != "report":  # order the words by group, in position order
            order = stable_order(group, n_groups)
            group = group[order]
            pick = order if pick is None else pick[order]
        if pick is not None:
            report_of = report_of[pick]
        self.report_of, self._group_index, self.n_groups = report_of, group, n_groups
        self.positions = (rows[POSITION] if pick is None else rows[POSITION][pick]) + token_start[report_of]
        self.form = rows[FORM] if pick is None else rows[FORM][pick]
        counter = rows[COUNTER].view(np.uint64)  # counters are never negative
        self.counter = counter if pick is None else counter[pick]
        self.group = group.astype(np.uint64)
        self._memo: dict[tuple[object, ...], object] = {}

    @property
    @memoized
    def steps(self) -> np.ndarray:
        """Each word's place in its report's noise sequence (`perturb.noise.counter_steps`)."""
        return counter_steps(self.counter)

    @property
    @memoized
    def trigram_steps(self) -> np.ndarray:
        """Each trigram's place in its report's noise sequence, after every word's."""
        return counter_steps(self.trigram_counter + np.uint64(TRIGRAM_COUNTERS))

    @memoized
    def can_change(self) -> np.ndarray:
        """Per report: whether permuting the words within each group can change its text at all —
        some group holds two words that render differently. Where it cannot, no draw differs
        from the original."""
        return self._mixes_forms(self.group)

    @memoized
    def can_change_within_trigrams(self) -> np.ndarray:
        """Per report: whether permuting the words within each trigram can change its text."""
        return self._mixes_forms(self.trigram)

    def _mixes_forms(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_reports, dtype=bool)
        # a group mixes forms exactly when two of its neighbouring words differ
        differs = (self.form[1:] != self.form[:-1]) & (ids[1:] == ids[:-1])
        out[self.report_of[1:][differs]] = True
        return out

    @memoized
    def _counts(self) -> np.ndarray:
        return np.bincount(self._group_index, minlength=self.n_groups)

    @property
    @memoized
    def group_size(self) -> np.ndarray:
        return self._counts()[self._group_index]

    @property
    @memoized
    def rank_in_group(self) -> np.ndarray:
        return counting(len(self._group_index)) - exclusive_cumsum(self._counts())[self._group_index]

    @property
    @memoized
    def rank_in_trigram(self) -> np.ndarray:
        return self.rank_in_group % 3

    @memoized
    def _trigrams(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        per_group = (self._counts() + 2) // 3
        trigram = (exclusive_cumsum(per_group)[self._group_index] + self.rank_in_group // 3).astype(np.uint64)
        n_trigrams = int(per_group.sum())
        trigram_report = self.report_of[self.rank_in_trigram == 0]  # a trigram's first word, in trigram order
        order = stable_order(trigram_report, self.n_reports)
        per_report = np.bincount(trigram_report, minlength=self.n_reports)
        counter = np.empty(n_trigrams, dtype=np.int64)
        counter[order] = np.arange(n_trigrams) - exclusive_cumsum(per_report)[trigram_report[order]]
        trigram_group = np.repeat(np.arange(self.n_groups, dtype=np.uint64), per_group)
        return trigram, trigram_group, trigram_report, counter.astype(np.uint64), n_trigrams

    @property
    def trigram(self) -> np.ndarray:
        return self._trigrams()[0]

    @property
    def trigram_group(self) -> np.ndarray:
        return self._trigrams()[1]

    @property
    def trigram_report(self) -> np.ndarray:
        return self._trigrams()[2]

    @property
    def trigram_counter(self) -> np.ndarray:
        return self._trigrams()[3]

    @property
    def n_trigrams(self) -> int:
        return self._trigrams()[4]

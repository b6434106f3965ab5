"""`Pack`: many reports laid end to end, so that one numpy call perturbs all of them.

Token positions, word groups and trigrams are offset report by report; each word keeps its
report and its counter within that report, which is all its random noise depends on. A kernel
written against `Pack.word_groups` therefore gives every report the same result whether it is
packed alone (the per-report `apply`) or with thousands of others (`apply_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perturb.batch.arrays import counting, exclusive_cumsum
from perturb.batch.word_groups import WordGroups
from perturb.layout import WORD_ROWS, Layout
from perturb.memo import Memo, memoized
from perturb.parsed import ParsedReport
from perturb.scopes import PosClass, check_scope

_FIRST = np.zeros(1, dtype=np.int64)
Classes = PosClass | tuple[PosClass, ...] | None


def report_word_groups(layout: Layout, scope: str, classes: tuple[PosClass, ...] | None) -> WordGroups:
    """The word groups of one report (kept on its layout: every pack of it alone reuses them)."""
    check_scope(scope)
    report_of = np.zeros(layout.word_rows.shape[1], dtype=np.int64)
    return WordGroups(layout.word_rows, report_of, _FIRST, _FIRST, len(layout.sentences), scope, classes)


class Pack(Memo):
    """Reports end to end: `starts[r]` is the first global token position of report r."""

    __slots__ = ("reports", "layouts", "starts", "sizes", "n_tokens", "_memo")

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
        self._memo: dict[tuple[object, ...], object] = {}

    def __len__(self) -> int:
        return len(self.reports)

    @memoized
    def bound_array(self) -> np.ndarray:
        """Report r's tokens are global positions `bound_array[r]` to `bound_array[r + 1]`."""
        return np.append(self.starts, self.n_tokens)

    @property
    @memoized
    def bounds(self) -> list[int]:
        """`bound_array()` as a list."""
        return self.bound_array().tolist()

    @property
    @memoized
    def original_texts(self) -> tuple[str, ...]:
        return tuple(layout.text for layout in self.layouts)

    @property
    def identity(self) -> np.ndarray:
        """Every token from its own position: the edit that changes nothing (a fresh array)."""
        return counting(self.n_tokens).copy()

    def word_groups(self, scope: str, classes: Classes = None) -> WordGroups:
        """The words of `scope` of every report, in one index space, grouped by what they move
        within: the report or each sentence; with POS classes, only their words, and each class
        a group of its own within each report or sentence (words move among their class's slots)."""
        if isinstance(classes, PosClass):
            classes = (classes,)
        if len(self.layouts) == 1:
            return self.layouts[0].derived(report_word_groups, scope, classes)
        return self._word_groups(scope, classes)

    @memoized
    def _word_groups(self, scope: str, classes: tuple[PosClass, ...] | None) -> WordGroups:
        check_scope(scope)
        rows, report_of, sentence_start, n_sentences = self._word_rows()
        return WordGroups(rows, report_of, self.starts, sentence_start, n_sentences, scope, classes)

    @memoized
    def _word_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        count = len(self.layouts)
        words = np.fromiter((len(layout.words) for layout in self.layouts), np.int64, count)
        sentences = np.fromiter((len(layout.sentences) for layout in self.layouts), np.int64, count)
        none = np.zeros((WORD_ROWS, 0), np.int64)  # so that a pack of no reports has rows too
        rows = np.concatenate([none, *(layout.word_rows for layout in self.layouts)], axis=1)
        report_of = np.repeat(np.arange(count, dtype=np.int64), words)
        return rows, report_of, exclusive_cumsum(sentences), int(sentences.sum())

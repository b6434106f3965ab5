"""`Layout`: everything the perturbations and the renderer read from one report, computed once.

Perturbations run at every training step, so the per-call work is a few numpy operations on index
arrays prepared here: which positions are words, how they group into perturbation units (the
report, or each sentence), their trigrams, POS classes, and both case renderings of every token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from perturb.casing import CaseForms, case_forms
from perturb.registry import PosClass

if TYPE_CHECKING:
    from perturb.parsed import ParsedReport

#: Coarse POS tags whose tokens never move: words move, punctuation and whitespace stay.
FIXED_POS = frozenset({"PUNCT", "SPACE"})
SCOPES = ("report", "sentence")
T = TypeVar("T")


def is_word(token: str, pos: str) -> bool:
    """A token is a movable word unless it is punctuation, whitespace or has no letter or digit."""
    return pos not in FIXED_POS and any(ch.isalnum() for ch in token)


class Units(NamedTuple):
    """Word positions of one perturbation scope (optionally one POS class), as index arrays.

    `group`: the unit (report or sentence) of each position; `chunk`: its trigram (consecutive
    triples within the unit) and `chunk_key` the same as floats; `offset`: its place in the
    trigram; `rank`/`size`: its place in the unit and the unit's size; `chunk_group`: the unit of
    each trigram.
    """

    positions: np.ndarray
    group: np.ndarray
    chunk: np.ndarray
    chunk_key: np.ndarray
    offset: np.ndarray
    rank: np.ndarray
    size: np.ndarray
    chunk_group: np.ndarray
    n_groups: int


def _units(groups: list[list[int]]) -> Units:
    positions, group, chunk, offset, rank, size, chunk_group = [], [], [], [], [], [], []
    n_chunks = 0
    for g, members in enumerate(groups):
        for k, p in enumerate(members):
            positions.append(p)
            group.append(g)
            chunk.append(n_chunks + k // 3)
            offset.append(k % 3)
            rank.append(k)
            size.append(len(members))
        group_chunks = (len(members) + 2) // 3
        chunk_group.extend([g] * group_chunks)
        n_chunks += group_chunks
    as_int = lambda xs: np.asarray(xs, dtype=np.intp)  # noqa: E731
    return Units(
        as_int(positions), np.asarray(group, dtype=np.float64), as_int(chunk),
        np.asarray(chunk, dtype=np.float64), as_int(offset), as_int(rank), as_int(size),
        np.asarray(chunk_group, dtype=np.float64), len(groups),
    )


class Layout:
    """Index structures of one report.

    - `words`: positions of movable words; `sentences`: those positions per sentence.
    - `forms`: each token's lower and capitalised rendering (see `perturb.casing`).
    - `capital`: whether each position renders its word capitalised — a property of the position:
      the first word of each sentence, and wherever the original word started with a capital.
    - `table` + `capital_offset`: `table[src[i] + capital_offset[i]]` is the rendering of the word
      from `src[i]` at position i, so rendering is one gather.
    """

    __slots__ = (
        "report", "n", "words", "sentences", "forms", "capital", "identity", "table",
        "capital_offset", "tokens", "text", "_units", "_memo",
    )

    def __init__(self, report: "ParsedReport") -> None:
        tokens, pos = report.tokens, report.pos
        self.report = report
        self.n = n = len(tokens)
        self.words: tuple[int, ...] = tuple(
            i for i, (tok, p) in enumerate(zip(tokens, pos)) if is_word(tok, p)
        )
        sentences: dict[int, list[int]] = {}
        for i in self.words:
            sentences.setdefault(report.sent_ids[i], []).append(i)
        self.sentences: tuple[tuple[int, ...], ...] = tuple(tuple(v) for v in sentences.values())
        first_in_sentence = {group[0] for group in self.sentences}
        forms: list[CaseForms] = []
        capital: list[bool] = []
        for i, (tok, p) in enumerate(zip(tokens, pos)):
            f = case_forms(tok, proper_noun=p == "PROPN" and i not in first_in_sentence)
            forms.append(f)
            capital.append(f.capitalised_here or i in first_in_sentence)
        self.forms = tuple(forms)
        self.capital = tuple(capital)
        self.identity = np.arange(n, dtype=np.intp)
        self.table = [f.lower for f in forms] + [f.upper for f in forms]
        self.capital_offset = np.where(capital, n, 0).astype(np.intp)
        self.tokens = tuple(f.upper if c else f.lower for f, c in zip(forms, capital))
        self.text = "".join(t + w for t, w in zip(self.tokens, report.whitespace))
        self._units: dict[tuple[str, PosClass | None], Units] = {}
        self._memo: dict[object, object] = {}

    def groups(self, scope: str) -> tuple[tuple[int, ...], ...]:
        """Word positions per unit of perturbation: one group (report) or one per sentence."""
        if scope == "report":
            return (self.words,) if self.words else ()
        if scope == "sentence":
            return self.sentences
        raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")

    def units(self, scope: str, pos_class: PosClass | None = None) -> Units:
        """The words of `scope` (only those of `pos_class`, if given) as index arrays (cached)."""
        key = (scope, pos_class)
        hit = self._units.get(key)
        if hit is None:
            pos = self.report.pos
            groups = [
                members
                for group in self.groups(scope)
                if (members := [i for i in group if pos_class is None or pos[i] in pos_class])
            ]
            hit = self._units[key] = _units(groups)
        return hit

    def memo(self, key: object, factory: Callable[[], T]) -> T:
        """Per-report cache for what a perturbation derives from the report alone, so that
        repeated draws (every training step) pay for it once."""
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = self._memo[key] = factory()
            return value

    def class_groups(self, pos_class: PosClass, scope: str) -> tuple[tuple[int, ...], ...]:
        """Word positions of one POS class per unit, as tuples (for readable user code)."""
        units = self.units(scope, pos_class)
        out: dict[float, list[int]] = {}
        for p, g in zip(units.positions.tolist(), units.group.tolist()):
            out.setdefault(g, []).append(p)
        return tuple(tuple(v) for v in out.values())

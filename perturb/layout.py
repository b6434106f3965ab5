"""`Layout`: everything the perturbations and the renderer read from one report, computed once.

Perturbations run at every training step, so the per-call work is a few numpy operations on index
arrays prepared here: which positions are words, their sentences and POS codes (from which
`perturb.units` groups them into the units they move within), and every token's case renderings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from perturb.casing import CaseForms, case_forms
from perturb.memo import Memo
from perturb.registry import PosClass
from perturb.units import WORD_ROWS, Units, pos_code

if TYPE_CHECKING:
    from perturb.parsed import ParsedReport

#: Coarse POS tags whose tokens never move: words move, punctuation and whitespace stay.
FIXED_POS = frozenset({"PUNCT", "SPACE"})
SCOPES = ("report", "sentence")
_ZERO = np.zeros(1, dtype=np.int64)


def is_word(token: str, pos: str) -> bool:
    """A token is a movable word unless it is punctuation, whitespace or has no letter or digit."""
    return pos not in FIXED_POS and (token.isalnum() or any(ch.isalnum() for ch in token))


class Layout(Memo):
    """Index structures of one report.

    - `words`: positions of movable words; `sentences`: those positions per sentence;
      `word_rows`: the words as `perturb.units` rows (position, sentence, counter, POS code, form).
    - `forms`: each token's lower and capitalised rendering (see `perturb.casing`).
    - `capital`: whether each position renders its word capitalised — a property of the position:
      the first word of each sentence, and wherever the original word started with a capital.
    - `table` + `capital_offset`: `table[src[i] + capital_offset[i]]` is the rendering of the word
      from `src[i]` at position i, so rendering is one gather.
    """

    __slots__ = (
        "report", "n", "words", "sentences", "word_rows", "forms", "capital", "identity", "table",
        "capital_offset", "tokens", "text", "_units", "_memo", "_table_bytes",
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
        sentence_of = {i: s for s, group in enumerate(self.sentences) for i in group}
        form_ids: dict[tuple[str, str], int] = {}
        self.word_rows = np.array(
            [
                (i, sentence_of[i], k, pos_code(pos[i]), form_ids.setdefault(forms[i][:2], len(form_ids)))
                for k, i in enumerate(self.words)
            ],
            dtype=np.int64,
        ).reshape(-1, WORD_ROWS).T.copy()
        self.identity = np.arange(n, dtype=np.intp)
        self.table = [f.lower for f in forms] + [f.upper for f in forms]
        self.capital_offset = np.where(capital, n, 0).astype(np.intp)
        self.tokens = tuple(f.upper if c else f.lower for f, c in zip(forms, capital))
        self.text = "".join(t + w for t, w in zip(self.tokens, report.whitespace))
        self._units: dict[tuple[str, tuple[PosClass, ...] | None], Units] = {}
        self._memo: dict[object, object] = {}
        self._table_bytes: tuple[bytes, np.ndarray, np.ndarray] | None = None

    @property
    def table_bytes(self) -> tuple[bytes, np.ndarray, np.ndarray]:
        """Every (word rendering, whitespace) pair as UTF-8, end to end, each entry's byte length,
        and each position's `shift`: the entry for the word from `src` at position i is
        `src + shift[i]` (its case and its whitespace are position i's). Packed rendering gathers
        one entry per token, in bytes, in numpy."""
        if self._table_bytes is None:
            whitespace = self.report.whitespace
            kinds = {w: k for k, w in enumerate(dict.fromkeys(whitespace))}
            forms = [entry.encode("utf-8", "surrogatepass") for entry in self.table]
            form_lengths = np.fromiter(map(len, forms), np.intp, len(forms))
            spaces = [w.encode("utf-8", "surrogatepass") for w in kinds]
            blob = b"".join(form + space for space in spaces for form in forms)
            lengths = np.concatenate([form_lengths + len(space) for space in spaces]) if spaces else form_lengths
            shift = np.fromiter((kinds[w] for w in whitespace), np.intp, self.n) * (2 * self.n) + self.capital_offset
            self._table_bytes = (blob, lengths, shift)
        return self._table_bytes

    def groups(self, scope: str) -> tuple[tuple[int, ...], ...]:
        """Word positions per unit of perturbation: one group (report) or one per sentence."""
        if scope == "report":
            return (self.words,) if self.words else ()
        if scope == "sentence":
            return self.sentences
        raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")

    def units(self, scope: str, classes: PosClass | tuple[PosClass, ...] | None = None) -> Units:
        """The words of `scope` grouped into units (cached). With POS classes, only their words,
        and each class is a unit of its own within each report or sentence: words move among the
        slots of their own class."""
        if isinstance(classes, PosClass):
            classes = (classes,)
        key = (scope, classes)
        hit = self._units.get(key)
        if hit is None:
            self.groups(scope)  # checks the scope
            rows = self.word_rows
            owner = np.zeros(rows.shape[1], dtype=np.int64)
            hit = self._units[key] = Units(rows, owner, _ZERO, _ZERO, len(self.sentences), scope, classes)
        return hit

    def class_groups(self, pos_class: PosClass, scope: str) -> tuple[tuple[int, ...], ...]:
        """Word positions of one POS class per unit, as tuples (for readable user code)."""
        units = self.units(scope, pos_class)
        out: dict[int, list[int]] = {}
        for p, g in zip(units.positions.tolist(), units.unit.tolist()):
            out.setdefault(g, []).append(p)
        return tuple(tuple(v) for v in out.values())

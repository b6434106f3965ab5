"""`Layout`: everything the perturbations and the renderer read from one report, computed once.

Perturbations run at every training step, so the per-call work is a few numpy operations on index
arrays prepared here: where the written words are (`perturb.words`), their sentences and POS codes
(from which `perturb.units` groups them into the units they move within), and how each renders
at a capitalised and at a lower-case slot (`perturb.casing`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from perturb.casing import slot_case
from perturb.memo import Memo
from perturb.registry import PosClass
from perturb.units import WORD_ROWS, Units, pos_code
from perturb.words import is_word, written_words

if TYPE_CHECKING:
    from perturb.parsed import ParsedReport

SCOPES = ("report", "sentence")
_ZERO = np.zeros(1, dtype=np.int64)
_SENTENCE_BREAK = re.compile(r"[.!?:\n]")


@lru_cache(maxsize=4096)
def _breaks(gap: str) -> bool:
    """Whether the text between two written words holds a sentence break (`perturb.casing`)."""
    return _SENTENCE_BREAK.search(gap) is not None


class Layout(Memo):
    """Index structures of one report.

    - `words`: the slots of the report's written words (`perturb.words`): the position of each
      one's head token, the one perturbations move (its other tokens go with it);
      `span(slot)`: its token range (start, end), `glued`: those of the written words of more
      than one token; `head[i]`: the slot of the written word that token i belongs to (i itself
      for free-standing punctuation and whitespace).
    - `sentences`: the slots per sentence; `word_rows`: the slots as `perturb.units` rows
      (position, sentence, counter, POS code, form).
    - `capital`: whether each slot renders its word capitalised — a property of the slot:
      sentence starts, and slots whose original word started with a capital of its own.
    - `table` + `capital_offset`: `table[src[i] + capital_offset[i]]` is what position i shows
      when the written word of slot `src[i]` lands there, in i's case (`perturb.casing`): the
      whole written word at a slot, "" at the other tokens of a written word, the token itself
      elsewhere; so rendering is one gather and `tokens` keeps one entry per token.
    """

    __slots__ = (
        "report", "n", "words", "glued", "head", "sentences", "word_rows", "capital", "identity", "table",
        "capital_offset", "tokens", "text", "_units", "_memo", "_table_bytes",
    )

    def __init__(self, report: "ParsedReport") -> None:
        tokens, pos, whitespace, sent_ids = report.tokens, report.pos, report.whitespace, report.sent_ids
        self.report = report
        self.n = n = len(tokens)
        head = list(range(n))
        lower, upper = list(tokens), list(tokens)
        capital = [False] * n
        words: list[int] = []
        glued: dict[int, tuple[int, int]] = {}
        sentences: list[list[int]] = []
        group_sentence = -1  # the parse sentence of the last group in `sentences`
        rows: list[int] = []  # the word rows, flat
        form_ids: dict[tuple[str, str], int] = {}
        last_sentence = -1  # the parse sentence of the last word token seen (ids never decrease)
        previous_end = 0
        for start, h, end in written_words(tokens, whitespace, pos):
            if not previous_end:
                after_break = True
            elif start == previous_end:  # the usual case: only whitespace since the last word
                space = whitespace[start - 1]
                after_break = space != " " and _breaks(space)
            else:
                between = "".join(tokens[i] + whitespace[i] for i in range(previous_end, start))
                after_break = _breaks(whitespace[previous_end - 1] + between)
            sentence = sent_ids[h]
            first_in_parse = sentence > last_sentence
            last_sentence = sentence
            if sentence != group_sentence:
                sentences.append([])
                group_sentence = sentence
            if end - start == 1:
                word = tokens[h]
            else:  # glued tokens: the slot writes them all, the others nothing
                word = "".join(tokens[start:end])
                glued[h] = (start, end)
                for i in range(start, end):
                    head[i] = h
                    lower[i] = upper[i] = ""
                    if i > h and is_word(tokens[i], pos[i]):
                        last_sentence = sent_ids[i]
            f, capital[h] = slot_case(word, pos[h], after_break, first_in_parse)
            lower[h], upper[h] = f.lower, f.upper
            rows += (h, len(sentences) - 1, len(words), pos_code(pos[h]), form_ids.setdefault(f[:2], len(form_ids)))
            words.append(h)
            sentences[-1].append(h)
            previous_end = end
        self.words: tuple[int, ...] = tuple(words)
        self.glued = glued
        self.sentences: tuple[tuple[int, ...], ...] = tuple(map(tuple, sentences))
        self.head = tuple(head)
        self.capital = tuple(capital)
        self.word_rows = np.array(rows, dtype=np.int64).reshape(-1, WORD_ROWS).T.copy()
        self.identity = np.arange(n, dtype=np.intp)
        self.table = lower + upper
        self.capital_offset = np.where(capital, n, 0).astype(np.intp)
        self.tokens = tuple(u if c else w for w, u, c in zip(lower, upper, capital))
        self.text = "".join(t + w for t, w in zip(self.tokens, whitespace))
        self._units: dict[tuple[str, tuple[PosClass, ...] | None], Units] = {}
        self._memo: dict[object, object] = {}
        self._table_bytes: tuple[bytes, np.ndarray, np.ndarray] | None = None

    def span(self, slot: int) -> tuple[int, int]:
        """The tokens (start, end) of the written word at `slot` (a free-standing token: itself)."""
        return self.glued.get(slot, (slot, slot + 1))

    def keeps_case(self, slot: int) -> bool:
        """Whether the written word at `slot` keeps a capital of its own wherever it stands (an
        acronym, a proper noun inside a sentence: `perturb.casing`)."""
        lower = self.table[slot]
        return lower == self.table[slot + self.n] and lower[:1].isupper()

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

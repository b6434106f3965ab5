"""`Layout`: everything the perturbations and the renderer read from one report, computed once.

Perturbations run at every training step, so the per-call work is a few numpy operations on index
arrays prepared here: where the written words are (`perturb.words`), their sentences and POS codes
(from which `perturb.units` groups them into the units they move within), and how each renders
at a capitalised and at a lower-case slot (`perturb.casing`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from perturb.casing import CaseForms, slot_case
from perturb.memo import Memo
from perturb.registry import PosClass
from perturb.units import WORD_ROWS, Units, pos_code
from perturb.words import is_word, written_words

if TYPE_CHECKING:
    from perturb.parsed import ParsedReport

SCOPES = ("report", "sentence")
_ZERO = np.zeros(1, dtype=np.int64)
_SENTENCE_BREAK = re.compile(r"[.!?:\n]")


class Layout(Memo):
    """Index structures of one report.

    - `words`: the slots of the report's written words (`perturb.words`): the position of each
      one's head token, the one perturbations move (its other tokens go with it);
      `spans[slot]`: its token range (start, end); `head[i]`: the slot of the written word that
      token i belongs to (i itself for free-standing punctuation and whitespace).
    - `sentences`: the slots per sentence; `word_rows`: the slots as `perturb.units` rows
      (position, sentence, counter, POS code, form).
    - `forms`: at each slot, its written word's lower and capitalised rendering
      (`perturb.casing`); elsewhere the token itself.
    - `capital`: whether each slot renders its word capitalised — a property of the slot:
      sentence starts, and slots whose original word started with a capital of its own.
    - `table` + `capital_offset`: `table[src[i] + capital_offset[i]]` is what position i shows
      when the written word of slot `src[i]` lands there: the whole written word at a slot, ""
      at the other tokens of a written word, the token itself elsewhere; so rendering is one
      gather and `tokens` keeps one entry per token.
    """

    __slots__ = (
        "report", "n", "words", "spans", "head", "sentences", "word_rows", "forms", "capital", "identity",
        "table", "capital_offset", "tokens", "text", "_units", "_memo", "_table_bytes",
    )

    def __init__(self, report: "ParsedReport") -> None:
        tokens, pos, whitespace, sent_ids = report.tokens, report.pos, report.whitespace, report.sent_ids
        self.report = report
        self.n = n = len(tokens)
        written = written_words(tokens, whitespace, pos)
        self.words: tuple[int, ...] = tuple(w.head for w in written)
        self.spans: dict[int, tuple[int, int]] = {w.head: (w.start, w.end) for w in written}
        sentences: dict[int, list[int]] = {}
        for i in self.words:
            sentences.setdefault(sent_ids[i], []).append(i)
        self.sentences: tuple[tuple[int, ...], ...] = tuple(tuple(v) for v in sentences.values())
        first_word_of_sentence: dict[int, int] = {}  # over word tokens: a sentence may start inside a written word
        for i, (tok, p) in enumerate(zip(tokens, pos)):
            if sent_ids[i] not in first_word_of_sentence and is_word(tok, p):
                first_word_of_sentence[sent_ids[i]] = i
        head = list(range(n))
        forms = [CaseForms(tok, tok, False) for tok in tokens]
        capital = [False] * n
        lower, upper = list(tokens), list(tokens)
        previous_end = 0
        for start, h, end in written:
            gap = "".join(tokens[i] + whitespace[i] for i in range(previous_end, start))
            after_break = not previous_end or _SENTENCE_BREAK.search(whitespace[previous_end - 1] + gap) is not None
            word = "".join(tokens[start:end])
            forms[h], capital[h] = slot_case(word, pos[h], after_break, first_word_of_sentence.get(sent_ids[h]) == h)
            for i in range(start, end):
                head[i] = h
                lower[i] = upper[i] = ""
            lower[h], upper[h] = forms[h].lower, forms[h].upper
            previous_end = end
        self.head = tuple(head)
        self.forms = tuple(forms)
        self.capital = tuple(capital)
        sentence_of = {i: s for s, group in enumerate(self.sentences) for i in group}
        form_ids: dict[tuple[str, str], int] = {}
        self.word_rows = np.array(
            [
                (i, sentence_of[i], k, pos_code(pos[i]), form_ids.setdefault((lower[i], upper[i]), len(form_ids)))
                for k, i in enumerate(self.words)
            ],
            dtype=np.int64,
        ).reshape(-1, WORD_ROWS).T.copy()
        self.identity = np.arange(n, dtype=np.intp)
        self.table = lower + upper
        self.capital_offset = np.where(capital, n, 0).astype(np.intp)
        self.tokens = tuple(u if c else w for w, u, c in zip(lower, upper, capital))
        self.text = "".join(t + w for t, w in zip(self.tokens, whitespace))
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

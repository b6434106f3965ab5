"""Rendering: words at positions, in the position's case, joined with the positions' whitespace.

Originals and negatives go through the same rule, so formatting cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter

import numpy as np

from perturb.casing import render_like
from perturb.parsed import ParsedReport


def render(
    report: ParsedReport, source_index: Sequence[int], replacements: Mapping[int, str] = {}
) -> tuple[str, ...]:
    """Output tokens: the word from `source_index[i]` (or its replacement) in position i's case."""
    layout = report.layout
    gather = (np.asarray(source_index, dtype=np.intp) + layout.capital_offset).tolist()
    table = layout.table
    tokens = itemgetter(*gather)(table) if len(gather) > 1 else tuple(table[j] for j in gather)
    return edited_tokens(report, tokens, replacements) if replacements else tokens


def replacement_form(report: ParsedReport, position: int, word: str) -> str:
    """A replacement word for the token at `position`, before its written word takes the slot's
    case: all caps where the original token was an acronym, else as given."""
    original = report.tokens[position]
    return word.upper() if original.isupper() and len(original) > 1 else word


def written_with(report: ParsedReport, slot: int, edits: Mapping[int, str]) -> str:
    """The written word at `slot` with its tokens replaced as `edits` says (token position → new
    word; "left-sided" with "right" for "left" is "right-sided"), in the slot's case — unless the
    original word keeps a capital of its own, as acronyms do. At free-standing punctuation, the
    new word alone."""
    layout = report.layout
    start, end = layout.span(slot)
    if end - start == 1:
        written = replacement_form(report, slot, edits[slot])
    else:
        written = "".join(
            replacement_form(report, i, edits[i]) if i in edits else report.tokens[i] for i in range(start, end)
        )
    if layout.keeps_case(slot):
        return written
    return render_like(written, layout.capital[slot])


def replaced_words(report: ParsedReport, replacements: Mapping[int, str]) -> dict[int, str]:
    """Each written word that `replacements` (token position → new word) touch, by its slot, as
    `written_with` writes it. A replacement rewrites the written word that held the token in the
    original, whatever moved."""
    head = report.layout.head
    by_slot: dict[int, dict[int, str]] = {}
    for position, word in replacements.items():
        by_slot.setdefault(head[position], {})[position] = word
    return {slot: written_with(report, slot, edits) for slot, edits in sorted(by_slot.items())}


def edited_tokens(
    report: ParsedReport, tokens: tuple[str, ...], replacements: Mapping[int, str]
) -> tuple[str, ...]:
    """`tokens` with the written words that `replacements` touch rewritten (`replaced_words`)."""
    edited = list(tokens)
    for slot, written in replaced_words(report, replacements).items():
        edited[slot] = written
    return tuple(edited)


def join(tokens: Sequence[str], whitespace: Sequence[str]) -> str:
    """Tokens and their trailing whitespace, as one text."""
    pieces: list[str] = [""] * (2 * len(tokens))
    pieces[::2] = tokens
    pieces[1::2] = whitespace
    return "".join(pieces)

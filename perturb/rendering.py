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
    """A replacement word as position `position` renders it: capitalised where the position is,
    all caps where the original was an acronym."""
    original = report.tokens[position]
    if original.isupper() and len(original) > 1:
        return word.upper()
    return render_like(word, report.layout.capital[position])


def edited_tokens(
    report: ParsedReport, tokens: tuple[str, ...], replacements: Mapping[int, str]
) -> tuple[str, ...]:
    """`tokens` with the replacement words put in, each in its position's case."""
    edited = list(tokens)
    for i, word in replacements.items():
        edited[i] = replacement_form(report, i, word)
    return tuple(edited)


def join(tokens: Sequence[str], whitespace: Sequence[str]) -> str:
    """Tokens and their trailing whitespace, as one text."""
    pieces: list[str] = [""] * (2 * len(tokens))
    pieces[::2] = tokens
    pieces[1::2] = whitespace
    return "".join(pieces)

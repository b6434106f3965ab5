"""The case rule that makes originals and negatives indistinguishable by formatting.

Capitalisation belongs to the position, not the word: a position whose original word started with a
capital renders whatever word lands there capitalised, every other position renders it in lower
case. Acronyms (all caps, e.g. "AP", "COPD", "T2/FLAIR") and proper nouns keep their case wherever
they go. Only a first character whose case maps one-to-one is ever changed ("ß" never becomes "SS"),
so the lower-cased word multiset is exactly preserved.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class CaseForms(NamedTuple):
    lower: str  # the word as rendered at a lower-case position
    upper: str  # the word as rendered at a capitalised position
    capitalised_here: bool  # whether this token's own position is a capitalised one


def can_swap_case(char: str) -> bool:
    """Whether a cased character's other case is one character that maps back to it ("a" ↔ "A";
    not "ß", whose capital is "SS")."""
    other = char.lower() if char.isupper() else char.upper()
    return len(other) == 1 and other != char and (other.upper() if char.isupper() else other.lower()) == char


def _swap_first(word: str, to_upper: bool) -> str:
    first = word[:1]
    if not first:
        return word
    changed = first.upper() if to_upper else first.lower()
    back = changed.lower() if to_upper else changed.upper()
    if len(changed) != 1 or back != first:
        return word
    return changed + word[1:]


def keeps_case(word: str, proper_noun: bool = False) -> bool:
    """Acronyms (all cased characters upper, and two or more of them or a digit: "AP", "COPD",
    "T2", "C7"), the pronoun "I" and capitalised proper nouns (taggers call lower-case findings
    such as "cardiomegaly" PROPN too)."""
    if proper_noun and word[:1].isupper():
        return True
    if word == "I":
        return True
    cased = [ch for ch in word if ch.isupper() or ch.islower()]
    if not cased or not all(ch.isupper() for ch in cased):
        return False
    return len(cased) >= 2 or any(ch.isdigit() for ch in word)


@lru_cache(maxsize=1 << 16)  # a report vocabulary is small: most tokens are cache hits
def case_forms(word: str, proper_noun: bool = False) -> CaseForms:
    """Both renderings of `word` and whether its own position is a capitalised one."""
    if keeps_case(word, proper_noun):
        return CaseForms(word, word, False)
    lower = _swap_first(word, to_upper=False)
    upper = _swap_first(lower, to_upper=True)
    capitalised = lower != word
    return CaseForms(lower, upper, capitalised)


def render_like(word: str, capital: bool) -> str:
    """Render a replacement word (e.g. an antonym) for a position."""
    forms = case_forms(word)
    return forms.upper if capital else forms.lower

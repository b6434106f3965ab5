"""The case rule that makes originals and negatives indistinguishable by formatting.

Capitalisation belongs to the slot, not the word (a slot: where a written word stands,
`perturb.words`). A slot is capitalised when it starts a sentence, whatever word held it in the
original (an acronym, a word the tagger called PROPN, a digit), or when its original word began
with a capital that is not its own (a common word capitalised inside a sentence); any word that
lands there is rendered capitalised, and in lower case everywhere else. A word keeps its own case
only where that case is its own: acronyms ("AP", "COPD", "T2/FLAIR") and proper nouns that the
original capitalises inside a sentence — a PROPN tag on a capitalised sentence start is not trusted.
Only a first character whose case maps one-to-one is ever changed ("ß" never becomes "SS"), so the
lower-cased word multiset is exactly preserved.

Every rendering goes through this module: the engine's own kinds, replacements (antonyms, clinical
edits) and user perturbations alike.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from perturb.words import can_swap_case, is_acronym


class CaseForms(NamedTuple):
    lower: str  # the word as rendered at a lower-case slot
    upper: str  # the word as rendered at a capitalised slot
    capitalised_here: bool  # whether the word's own case makes its slot a capitalised one


def _swap_first(word: str, to_upper: bool) -> str:
    first = word[:1]
    if not first or (first.isupper() == to_upper) or not can_swap_case(first):
        return word
    return (first.upper() if to_upper else first.lower()) + word[1:]


def keeps_case(word: str, proper_noun: bool = False) -> bool:
    """Acronyms (`perturb.words.is_acronym`: "AP", "COPD", "T2/FLAIR", "XXXX-XXXX"), the pronoun
    "I" and capitalised proper nouns (taggers call lower-case findings such as "cardiomegaly"
    PROPN too)."""
    return (proper_noun and word[:1].isupper()) or is_acronym(word)


@lru_cache(maxsize=1 << 16)  # a report vocabulary is small: most tokens are cache hits
def case_forms(word: str, proper_noun: bool = False) -> CaseForms:
    """Both renderings of `word` and whether its own case capitalises its slot."""
    if keeps_case(word, proper_noun):
        return CaseForms(word, word, False)
    lower = _swap_first(word, to_upper=False)
    upper = _swap_first(lower, to_upper=True)
    return CaseForms(lower, upper, lower != word)


@lru_cache(maxsize=1 << 16)
def slot_case(word: str, pos: str, after_break: bool, first_in_parse: bool) -> tuple[CaseForms, bool]:
    """The renderings of a slot's original written word (POS: its head token's) and whether the
    slot is capitalised. The slot starts a sentence when a break (the text's start, ".", "!",
    "?", ":", a line break) stands before it and its word does not begin with a lower-case letter
    that has a capital (the word after "approx." stays as written). The parser's sentence starts
    are not used for that, since it misses many (after the blank line before an impression, say),
    only to distrust a PROPN tag."""
    sentence_start = after_break and not (word[:1].islower() and can_swap_case(word[0]))
    forms = case_forms(word, proper_noun=pos == "PROPN" and not (sentence_start or first_in_parse))
    return forms, sentence_start or forms.capitalised_here


def render_like(word: str, capital: bool) -> str:
    """Render a replacement word (e.g. an antonym) for a slot."""
    forms = case_forms(word)
    return forms.upper if capital else forms.lower

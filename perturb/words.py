"""Written words: the tokens that move together.

A tokenizer splits "left-sided" into "left", "-", "sided", "patient's" into "patient", "'s" and
"cannot" into "can", "not". Moved apart they make forms no report contains ("sided-left", a stray
"'s", "Arethe"), so tokens that touch (no whitespace between them) form one written word, which
every perturbation moves whole. Separators ("." "," ":" brackets, quotes, …) and whitespace
tokens end a written word and keep their own slot, as free-standing punctuation does.

These text-level definitions (and which words are acronyms, which characters can change case)
are shared by the engine and by the leak measures (`perturb.leaks`), which import nothing else
from the engine, so that they measure any engine the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Characters that stand between written words, never inside one.
SEPARATORS = frozenset('.,;:!?()[]{}"“”«»…')
#: Coarse POS tags whose tokens are never words.
FIXED_POS = frozenset({"PUNCT", "SPACE"})


def is_word(token: str, pos: str) -> bool:
    """A token is a word unless it is punctuation, whitespace or has no letter or digit."""
    return pos not in FIXED_POS and (token.isalnum() or any(ch.isalnum() for ch in token))


@lru_cache(maxsize=4096)  # few distinct punctuation tokens
def is_separator(token: str) -> bool:
    """Whitespace, or a token made of separators only (the empty token too)."""
    return all(ch in SEPARATORS or ch.isspace() for ch in token)


_STEM = re.compile(r"[^\W_]+")  # a run of letters and digits


def is_acronym(word: str) -> bool:
    """Whether a written word keeps its case everywhere: its first run of letters and digits has
    only upper-case letters, two or more of them or a digit ("AP", "COPD", "T2/FLAIR",
    "XXXX-XXXX", "C7"), or is the pronoun "I"."""
    stem = _STEM.search(word)
    if stem is None:
        return False
    text = stem.group()
    if text == "I":
        return True
    cased = [ch for ch in text if ch.isupper() or ch.islower()]
    return bool(cased) and all(ch.isupper() for ch in cased) and (len(cased) >= 2 or any(map(str.isdigit, text)))


def can_swap_case(char: str) -> bool:
    """Whether a cased character's other case is one character that maps back to it ("a" ↔ "A";
    not "ß", whose capital is "SS"): only such a first character ever changes case."""
    other = char.lower() if char.isupper() else char.upper()
    return len(other) == 1 and other != char and (other.upper() if char.isupper() else other.lower()) == char


def written_words(
    tokens: tuple[str, ...], whitespace: tuple[str, ...], pos: tuple[str, ...]
) -> list[tuple[int, int, int]]:
    """Every written word of a token sequence, in order, as (start, head, end): tokens `start` to
    `end` (exclusive) with no whitespace between them and no separator among them, maximal, of
    which `head` is the first word token (whose POS and sentence are the written word's). Runs
    without a word token ("-", "--") are free-standing punctuation."""
    out: list[tuple[int, int, int]] = []
    start = head = -1  # the run being read, and its first word token
    for i, (token, tag, space) in enumerate(zip(tokens, pos, whitespace)):
        word = is_word(token, tag)
        if not word and is_separator(token):
            if head >= 0:
                out.append((start, head, i))
            start = head = -1
            continue
        if start < 0:
            start = i
        if word and head < 0:
            head = i
        if space:
            if head >= 0:
                out.append((start, head, i + 1))
            start = head = -1
    if head >= 0:
        out.append((start, head, len(tokens)))
    return out

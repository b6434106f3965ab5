"""Formatting leaks: ways a negative can be told from its original without reading its meaning.

A text-only model that spots negatives by their surface (a lower-case sentence start, a word form
no report contains) learns nothing about images. These measures read only the texts, never the
engine's parse, so they can check the engine from outside:

- `casing_anomalies`: sentence starts in lower case and capitals inside a sentence.
- `word_forms`: the written words of a text ("left-sided", "patient's", "T2/FLAIR"), lower-cased,
  to compare against a vocabulary (e.g. the training reports') with `new_forms`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from perturb.words import SEPARATORS, can_swap_case, is_acronym

if TYPE_CHECKING:
    from perturb.result import PerturbationResult

_FORM = re.compile("[^\\s" + re.escape("".join(sorted(SEPARATORS))) + "]+")
#: A gap between two written words that holds one of these starts a sentence; after a colon
#: alone either case is usual.
_SENTENCE_BREAK = re.compile(r"[.!?\n]")
_COLON = re.compile(":")


def _written(text: str) -> list[re.Match[str]]:
    """Maximal runs of characters that are neither whitespace nor separators, with a letter or digit."""
    return [m for m in _FORM.finditer(text) if any(ch.isalnum() for ch in m.group())]


def word_forms(text: str) -> list[str]:
    """The text's written words, lower-cased, without the connectors at their edges
    ("patients'" → "patients"); connectors inside stay ("left-sided", "and/or")."""
    out = []
    for match in _written(text):
        form = match.group()
        first = next(i for i, ch in enumerate(form) if ch.isalnum())
        last = max(i for i, ch in enumerate(form) if ch.isalnum())
        out.append(form[first : last + 1].lower())
    return out


class CaseAnomalies(NamedTuple):
    lower_starts: int  # sentence starts that begin with a lower-case letter that has a capital
    inner_capitals: int  # capitalised words inside a sentence that are not acronyms


def casing_anomalies(text: str) -> CaseAnomalies:
    """Count the casing oddities a reader sees. A sentence starts at the text's first written word
    and after any gap holding ".", "!", "?" or a line break; after a colon alone either case
    passes. Only a first character whose case maps one-to-one counts ("ß" has no one-letter
    capital); acronyms (`perturb.words.is_acronym`) pass. Proper nouns inside a sentence
    count too: they are rare in reports and count the same in an original as in its negatives."""
    lower = inner = 0
    end = 0
    for k, match in enumerate(_written(text)):
        word, first = match.group(), match.group()[0]
        start = k == 0 or _SENTENCE_BREAK.search(text, end, match.start()) is not None
        free = not start and _COLON.search(text, end, match.start()) is not None
        end = match.end()
        if start and first.islower() and can_swap_case(first):
            lower += 1
        elif not (start or free) and first.isupper() and can_swap_case(first) and not is_acronym(word):
            inner += 1
    return CaseAnomalies(lower, inner)


def more_casing_anomalies(negative: str, original: str) -> bool:
    """Whether the negative has more lower-case sentence starts or more inner capitals than its
    original (each kind counted on its own, so one cannot hide the other)."""
    ours, theirs = casing_anomalies(negative), casing_anomalies(original)
    return ours.lower_starts > theirs.lower_starts or ours.inner_capitals > theirs.inner_capitals


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every written word form of `texts` (`word_forms`)."""
    return frozenset(form for text in texts for form in word_forms(text))


def new_forms(negative: str, original: str, known: frozenset[str]) -> set[str]:
    """Word forms of the negative found neither in its original nor in `known`."""
    return set(word_forms(negative)) - set(word_forms(original)) - known


class KindLeaks(NamedTuple):
    """One kind's leaks over a set of negatives: how many were applicable, and how many of those
    have more casing anomalies than their original or a word form that is new (`new_forms`),
    with the new forms and how often each occurred."""

    negatives: int
    casing: int
    new_form: int
    forms: dict[str, int]

    def share(self, count: int) -> float:
        return count / self.negatives if self.negatives else 0.0


def measure(
    originals: Iterable[str], rows: Iterable[Iterable[PerturbationResult]], known: frozenset[str]
) -> dict[str, KindLeaks]:
    """Per kind, the leaks of its applicable negatives; `rows[r]` holds the results for
    `originals[r]`, as `perturb.apply_batch` returns them."""
    counts: dict[str, list[int]] = {}
    forms: dict[str, Counter[str]] = {}
    for original, results in zip(originals, rows):
        for result in results:
            if not result.applicable:
                continue
            tally = counts.setdefault(result.kind, [0, 0, 0])
            new = new_forms(result.text, original, known)
            tally[0] += 1
            tally[1] += more_casing_anomalies(result.text, original)
            tally[2] += bool(new)
            forms.setdefault(result.kind, Counter()).update(new)
    return {
        kind: KindLeaks(n, casing, new, dict(forms[kind].most_common())) for kind, (n, casing, new) in counts.items()
    }

"""The nine perturbations of the paper, registered under their published names.

Each is a pure function of (report, rng, scope): it never parses and never touches global random
state. Words move only among word positions; punctuation and whitespace keep theirs. The work is
a few numpy operations on the report's prepared `Units` (see `perturb.layout`): a random sort key
per word, offset by its unit, permutes words within units in one `argsort`.
"""

from __future__ import annotations

import numpy as np

from perturb.antonyms import antonym_of
from perturb.layout import Units
from perturb.parsed import ParsedReport
from perturb.registry import Edit, PosClass, register

NOUNS = PosClass(frozenset({"NOUN", "PROPN"}))
ADJECTIVES = PosClass(frozenset({"ADJ"}))
VERBS = PosClass(frozenset({"VERB"}))
NOT_NOUNS_OR_ADJ = PosClass(NOUNS.tags | ADJECTIVES.tags, invert=True)


def _shuffle_within(
    src: np.ndarray, units: Units, keys: np.ndarray | None, rng: np.random.Generator
) -> None:
    """Permute the words of `units` uniformly within each value of the integer-valued `keys`
    (None: all together), in place on `src`. Keys + uniform noise in [0, 1) sort each key's
    words together in random order."""
    positions = units.positions
    if len(positions) < 2:
        return
    noise = rng.random(len(positions))
    order = (noise if keys is None else keys + noise).argsort()
    src[positions] = positions[order]


def _group_keys(units: Units) -> np.ndarray | None:
    return units.group if units.n_groups > 1 else None


def _shuffle_classes(
    report: ParsedReport, rng: np.random.Generator, scope: str, classes: tuple[PosClass, ...]
) -> Edit:
    layout = report.layout
    src = layout.identity.copy()
    for pos_class in classes:
        units = layout.units(scope, pos_class)
        _shuffle_within(src, units, _group_keys(units), rng)
    return Edit(src)


@register("shuffle_all_words", description="Permute all words; punctuation stays in place.")
def shuffle_all_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    units = layout.units(scope)
    src = layout.identity.copy()
    _shuffle_within(src, units, _group_keys(units), rng)
    return Edit(src)


@register(
    "swap_adjacent_words",
    description="Swap each pair of neighbouring words (1st↔2nd, 3rd↔4th, …); an involution.",
    deterministic=True,
)
def swap_adjacent_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    units = layout.units(scope)
    index = np.arange(len(units.positions))
    even = units.rank % 2 == 0
    partner = np.where(even, np.where(units.rank + 1 < units.size, index + 1, index), index - 1)
    src = layout.identity.copy()
    src[units.positions] = units.positions[partner]
    return Edit(src)


@register(
    "reverse_sentence",
    description="Reverse the word order (of the report, or of each sentence); an involution.",
    deterministic=True,
)
def reverse_sentence(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    units = layout.units(scope)
    index = np.arange(len(units.positions))
    mirrored = index - 2 * units.rank + units.size - 1  # the word at (size-1-rank) in its unit
    src = layout.identity.copy()
    src[units.positions] = units.positions[mirrored]
    return Edit(src)


@register(
    "shuffle_within_trigrams",
    description="Cut the words into consecutive trigrams and permute the words inside each.",
)
def shuffle_within_trigrams(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    layout = report.layout
    units = layout.units(scope)
    src = layout.identity.copy()
    _shuffle_within(src, units, units.chunk_key, rng)
    return Edit(src)


@register(
    "shuffle_trigrams",
    description="Cut the words into consecutive trigrams and permute the trigrams, each kept whole.",
)
def shuffle_trigrams(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    units = layout.units(scope)
    src = layout.identity.copy()
    n_chunks = len(units.chunk_group)
    if n_chunks < 2:
        return Edit(src)
    rank = np.empty(n_chunks, dtype=np.intp)
    rank[(units.chunk_group + rng.random(n_chunks)).argsort()] = np.arange(n_chunks)
    order = (rank[units.chunk] * 3 + units.offset).argsort()
    src[units.positions] = units.positions[order]
    return Edit(src)


@register(
    "shuffle_nouns_and_adj",
    description="Permute nouns among noun slots and adjectives among adjective slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, ADJECTIVES),
)
def shuffle_nouns_and_adj(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _shuffle_classes(report, rng, scope, (NOUNS, ADJECTIVES))


@register(
    "shuffle_allbut_nouns_and_adj",
    description="Permute every word that is not a noun or adjective among those slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOT_NOUNS_OR_ADJ,),
)
def shuffle_allbut_nouns_and_adj(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    return _shuffle_classes(report, rng, scope, (NOT_NOUNS_OR_ADJ,))


@register(
    "shuffle_nouns_verbs_adj",
    description="Permute nouns, verbs and adjectives, each class among its own slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, VERBS, ADJECTIVES),
)
def shuffle_nouns_verbs_adj(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    return _shuffle_classes(report, rng, scope, (NOUNS, VERBS, ADJECTIVES))


def _antonym_candidates(report: ParsedReport) -> list[tuple[int, str]]:
    tokens = report.tokens
    return [
        (i, partner)
        for i in report.layout.units("report", ADJECTIVES).positions.tolist()
        if (partner := antonym_of(tokens[i].lower())) is not None
    ]


@register(
    "replace_adjectives_with_antonyms",
    description="Replace a random non-empty subset of adjectives with their antonyms "
    "(clinical lexicon; WordNet too when its data is installed).",
    word_preserving=False,
    needs=("pos",),
)
def replace_adjectives_with_antonyms(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    layout = report.layout
    candidates = layout.memo("antonym_candidates", lambda: _antonym_candidates(report))
    if not candidates:
        return None
    chosen = rng.random(len(candidates)) < 0.5
    if not chosen.any():
        chosen[rng.integers(len(candidates))] = True
    return Edit(layout.identity, {i: w for (i, w), c in zip(candidates, chosen) if c})

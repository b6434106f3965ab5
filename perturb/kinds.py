"""The nine perturbations of the paper, registered under their published names.

Each is a pure function of (report, rng, scope): it never parses and never touches global random
state. Words move only among word positions; punctuation and whitespace keep theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perturb.antonyms import antonym_of
from perturb.parsed import ParsedReport
from perturb.registry import Edit, PosClass, register

NOUNS = PosClass(frozenset({"NOUN", "PROPN"}))
ADJECTIVES = PosClass(frozenset({"ADJ"}))
VERBS = PosClass(frozenset({"VERB"}))
NOT_NOUNS_OR_ADJ = PosClass(NOUNS.tags | ADJECTIVES.tags, invert=True)


def _permute(src: list[int], positions: Sequence[int], rng: np.random.Generator) -> None:
    """Permute the words at `positions` among themselves (in place on `src`)."""
    if len(positions) < 2:
        return
    order = list(positions)
    rng.shuffle(order)
    for p, q in zip(positions, order):
        src[p] = q


def _class_edit(
    report: ParsedReport, rng: np.random.Generator, scope: str, classes: Sequence[PosClass]
) -> Edit:
    layout = report.layout
    src = list(layout.identity)
    for pos_class in classes:
        for group in layout.class_groups(pos_class, scope):
            _permute(src, group, rng)
    return Edit(src)


@register(
    "shuffle_all_words",
    description="Permute all words; punctuation stays in place.",
)
def shuffle_all_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    src = list(layout.identity)
    for group in layout.groups(scope):
        _permute(src, group, rng)
    return Edit(src)


@register(
    "swap_adjacent_words",
    description="Swap each pair of neighbouring words (1st↔2nd, 3rd↔4th, …); an involution.",
    deterministic=True,
)
def swap_adjacent_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    src = list(layout.identity)
    for group in layout.groups(scope):
        for k in range(0, len(group) - 1, 2):
            a, b = group[k], group[k + 1]
            src[a], src[b] = b, a
    return Edit(src)


@register(
    "reverse_sentence",
    description="Reverse the word order (of the report, or of each sentence); an involution.",
    deterministic=True,
)
def reverse_sentence(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    src = list(layout.identity)
    for group in layout.groups(scope):
        for p, q in zip(group, reversed(group)):
            src[p] = q
    return Edit(src)


@register(
    "shuffle_within_trigrams",
    description="Cut the words into consecutive trigrams and permute the words inside each.",
)
def shuffle_within_trigrams(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    layout = report.layout
    src = list(layout.identity)
    for group in layout.groups(scope):
        for k in range(0, len(group), 3):
            _permute(src, group[k : k + 3], rng)
    return Edit(src)


@register(
    "shuffle_trigrams",
    description="Cut the words into consecutive trigrams and permute the trigrams, each kept whole.",
)
def shuffle_trigrams(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    layout = report.layout
    src = list(layout.identity)
    for group in layout.groups(scope):
        chunks = [group[k : k + 3] for k in range(0, len(group), 3)]
        if len(chunks) < 2:
            continue
        rng.shuffle(chunks)
        for p, q in zip(group, (q for chunk in chunks for q in chunk)):
            src[p] = q
    return Edit(src)


@register(
    "shuffle_nouns_and_adj",
    description="Permute nouns among noun slots and adjectives among adjective slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, ADJECTIVES),
)
def shuffle_nouns_and_adj(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _class_edit(report, rng, scope, (NOUNS, ADJECTIVES))


@register(
    "shuffle_allbut_nouns_and_adj",
    description="Permute every word that is not a noun or adjective among those slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOT_NOUNS_OR_ADJ,),
)
def shuffle_allbut_nouns_and_adj(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    return _class_edit(report, rng, scope, (NOT_NOUNS_OR_ADJ,))


@register(
    "shuffle_nouns_verbs_adj",
    description="Permute nouns, verbs and adjectives, each class among its own slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, VERBS, ADJECTIVES),
)
def shuffle_nouns_verbs_adj(
    report: ParsedReport, rng: np.random.Generator, scope: str
) -> Edit | None:
    return _class_edit(report, rng, scope, (NOUNS, VERBS, ADJECTIVES))


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
    candidates = [
        (i, partner)
        for group in layout.class_groups(ADJECTIVES, "report")
        for i in group
        if (partner := antonym_of(report.tokens[i].lower())) is not None
    ]
    if not candidates:
        return None
    chosen = rng.random(len(candidates)) < 0.5
    if not chosen.any():
        chosen[rng.integers(len(candidates))] = True
    return Edit(layout.identity, {i: w for (i, w), c in zip(candidates, chosen) if c})

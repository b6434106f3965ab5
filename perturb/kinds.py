"""The nine perturbations of the paper, registered under their published names.

Each is a pure function of (report, rng, scope): it never parses and never touches global random
state. Written words (`perturb.words`: "left-sided" is one) move only among word slots;
punctuation and whitespace keep theirs. The random kinds are batch kernels (`perturb.kernels`): a
sort key per word — its unit, then counter-based noise — permutes the words within every unit of
every report in the pack in one `argsort`.
The two deterministic kinds ignore the noise; their result is remembered per report.
"""

from __future__ import annotations

import numpy as np

from perturb.antonyms import antonym_of
from perturb.kernels import PackedEdit, register_kernel
from perturb.noise import counter_steps, noise, order_within
from perturb.packed import Candidates, Pack, Substitute
from perturb.parsed import ParsedReport
from perturb.registry import PosClass
from perturb.units import Units, counting, exclusive_cumsum

NOUNS = PosClass(frozenset({"NOUN", "PROPN"}))
ADJECTIVES = PosClass(frozenset({"ADJ"}))
VERBS = PosClass(frozenset({"VERB"}))
NOT_NOUNS_OR_ADJ = PosClass(NOUNS.tags | ADJECTIVES.tags, invert=True)


def _permute(pack: Pack, units: Units, words: np.ndarray, by: str) -> PackedEdit:
    """Permute the words of `units` uniformly within each unit (`by="unit"`) or trigram
    (`by="chunk"`)."""
    within, n_within = (units.unit, units.n_units) if by == "unit" else (units.chunk, units.n_chunks)
    src = pack.identity
    order = order_within(within, noise(words, units.owner, units.steps), n_within)
    src[units.positions] = units.positions[order]
    return PackedEdit(src, applicable=units.can_change(by))


@register_kernel("shuffle_all_words", description="Permute all words; punctuation stays in place.")
def shuffle_all_words(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    units = pack.units(scope)
    return _permute(pack, units, words, "unit")


@register_kernel(
    "swap_adjacent_words",
    description="Swap each pair of neighbouring words (1st↔2nd, 3rd↔4th, …); an involution.",
    deterministic=True,
)
def swap_adjacent_words(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    units = pack.units(scope)
    index = np.arange(len(units.positions))
    even = units.rank % 2 == 0
    partner = np.where(even, np.where(units.rank + 1 < units.size, index + 1, index), index - 1)
    src = pack.identity
    src[units.positions] = units.positions[partner]
    return PackedEdit(src)


@register_kernel(
    "reverse_sentence",
    description="Reverse the word order (of the report, or of each sentence); an involution.",
    deterministic=True,
)
def reverse_sentence(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    units = pack.units(scope)
    index = np.arange(len(units.positions))
    mirrored = index - 2 * units.rank + units.size - 1  # the word at (size-1-rank) in its unit
    src = pack.identity
    src[units.positions] = units.positions[mirrored]
    return PackedEdit(src)


@register_kernel(
    "shuffle_within_trigrams",
    description="Cut the words into consecutive trigrams and permute the words inside each.",
)
def shuffle_within_trigrams(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    units = pack.units(scope)
    return _permute(pack, units, words, "chunk")


@register_kernel(
    "shuffle_trigrams",
    description="Cut the words into consecutive trigrams and permute the trigrams, each kept whole.",
)
def shuffle_trigrams(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    units = pack.units(scope)
    src = pack.identity
    chunk_noise = noise(words, units.chunk_owner, units.chunk_steps)
    rank = np.empty(units.n_chunks, dtype=np.intp)
    rank[order_within(units.chunk_unit, chunk_noise, units.n_units)] = counting(units.n_chunks)
    order = (rank[units.chunk.astype(np.intp)] * 3 + units.offset).argsort()
    src[units.positions] = units.positions[order]
    return PackedEdit(src, applicable=units.memo("trigrams_can_move", lambda: _trigrams_can_move(units)))


def _trigrams_can_move(units: Units) -> np.ndarray:
    """Per report: some unit has two trigrams to swap and some unit two different words (a report
    whose trigrams are all alike is caught by the redraws)."""
    several = np.bincount(units.chunk_unit.astype(np.intp), minlength=units.n_units) >= 2
    out = np.zeros(units.n_reports, dtype=bool)
    out[units.chunk_owner[several[units.chunk_unit.astype(np.intp)]]] = True
    return out & units.can_change("unit")


def _shuffle_classes(pack: Pack, words: np.ndarray, scope: str, classes: tuple[PosClass, ...]) -> PackedEdit:
    units = pack.units(scope, classes)
    return _permute(pack, units, words, "unit")


@register_kernel(
    "shuffle_nouns_and_adj",
    description="Permute nouns among noun slots and adjectives among adjective slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, ADJECTIVES),
)
def shuffle_nouns_and_adj(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    return _shuffle_classes(pack, words, scope, (NOUNS, ADJECTIVES))


@register_kernel(
    "shuffle_allbut_nouns_and_adj",
    description="Permute every word that is not a noun or adjective among those slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOT_NOUNS_OR_ADJ,),
)
def shuffle_allbut_nouns_and_adj(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    return _shuffle_classes(pack, words, scope, (NOT_NOUNS_OR_ADJ,))


@register_kernel(
    "shuffle_nouns_verbs_adj",
    description="Permute nouns, verbs and adjectives, each class among its own slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, VERBS, ADJECTIVES),
)
def shuffle_nouns_verbs_adj(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    return _shuffle_classes(pack, words, scope, (NOUNS, VERBS, ADJECTIVES))


def _antonym_candidates(report: ParsedReport) -> list[tuple[int, str]]:
    """(position, partner) for every adjective with a lexicon partner, in position order."""
    tokens = report.tokens
    return [
        (i, partner)
        for i in report.layout.units("report", ADJECTIVES).positions.tolist()
        if (partner := antonym_of(tokens[i].lower())) is not None
    ]


def _candidate_noise_steps(candidates: Candidates, n_reports: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per report its candidate count and first candidate; per candidate its noise step (its
    index among its report's candidates)."""
    counts = np.bincount(candidates.owner, minlength=n_reports)
    starts = exclusive_cumsum(counts)
    return counts, starts, counter_steps(np.arange(len(candidates.owner)) - starts[candidates.owner])


@register_kernel(
    "replace_adjectives_with_antonyms",
    description="Replace a random non-empty subset of adjectives with their antonyms "
    "(clinical lexicon; WordNet too when its data is installed).",
    word_preserving=False,
    needs=("pos",),
)
def replace_adjectives_with_antonyms(pack: Pack, words: np.ndarray, scope: str) -> PackedEdit:
    """Each candidate is replaced with probability ½; a report where none was picked gets the
    candidate with the largest noise instead."""
    candidates = Candidates.of(pack, _antonym_candidates)
    counts, starts, steps = candidates.memo("noise_steps", lambda: _candidate_noise_steps(candidates, len(pack)))
    owner = candidates.owner
    applicable = counts > 0
    chosen = np.zeros(len(owner), dtype=bool)
    if len(owner):
        values = noise(words, owner, steps)
        chosen = (values >> np.uint64(63)).astype(bool)
        segments = starts[applicable]
        fallback = np.zeros(len(pack), dtype=bool)
        fallback[applicable] = ~np.logical_or.reduceat(chosen, segments)
        top = np.zeros(len(pack), dtype=np.uint64)
        top[applicable] = np.maximum.reduceat(values, segments)
        chosen |= fallback[owner] & (values == top[owner])
    return PackedEdit(pack.identity, Substitute(candidates, chosen), applicable)

"""The word-order kinds of the paper: shuffle, swap neighbours, reverse, and two trigram shuffles.

Each kind is first its reference — a plain function of (report, rng, scope) over the report's
word groups (`Layout.groups`: the whole report, or each sentence) — then, beneath it, its batch
kernel: the same perturbation for a whole pack in a few numpy calls. A shuffle sorts each
group's words by their noise (`perturb.noise`: a pure function of the attempt's stream value
and the word's index among the report's words), which is what makes the two agree exactly.
Written words move whole; punctuation and whitespace keep their slots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perturb.batch.arrays import counting
from perturb.batch.kernels import PackedEdit
from perturb.batch.pack import Pack
from perturb.batch.word_groups import WordGroups
from perturb.checks import check_involution
from perturb.noise import TRIGRAM_COUNTERS, ReportNoise, noise, order_within
from perturb.parsed import ParsedReport
from perturb.registry import Edit, kernel_for, register
from perturb.result import PerturbationResult

Groups = Sequence[Sequence[int]]


def shuffle_groups(report: ParsedReport, rng: np.random.Generator, groups: Groups) -> Edit:
    """Each group's words in a uniformly random order: sorted by their noise."""
    noise_of = ReportNoise(rng)
    counter = {slot: k for k, slot in enumerate(report.layout.words)}  # a word's noise key
    source = list(range(len(report)))
    for group in groups:
        for slot, drawn in zip(group, sorted(group, key=lambda s: noise_of.sort_key(counter[s]))):
            source[slot] = drawn
    return Edit(source)


def moved(pack: Pack, groups: WordGroups, taken: np.ndarray, applicable: np.ndarray | None = None) -> PackedEdit:
    """The edit in which the slot of word k of `groups` takes the written word of word
    `taken[k]`; every other position keeps its own."""
    source = pack.identity
    source[groups.positions] = groups.positions[taken]
    return PackedEdit(source, applicable=applicable)


def permute_within(
    pack: Pack, groups: WordGroups, stream: np.ndarray, ids: np.ndarray, n_ids: int, applicable: np.ndarray
) -> PackedEdit:
    """The kernel of `shuffle_groups`: the words permuted uniformly within each of `ids` (their
    group, or their trigram), by their noise."""
    return moved(pack, groups, order_within(ids, noise(stream, groups.report_of, groups.steps), n_ids), applicable)


def trigrams(group: Sequence[int]) -> list[Sequence[int]]:
    """Consecutive triples of a group's words (the last may be shorter)."""
    return [group[k : k + 3] for k in range(0, len(group), 3)]


# --- shuffle_all_words -----------------------------------------------------------------------


@register("shuffle_all_words", description="Permute all words; punctuation stays in place.")
def shuffle_all_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    return shuffle_groups(report, rng, report.layout.groups(scope))


@kernel_for("shuffle_all_words")
def shuffle_all_words_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    groups = pack.word_groups(scope)
    return permute_within(pack, groups, stream, groups.group, groups.n_groups, groups.can_change())


# --- swap_adjacent_words ---------------------------------------------------------------------


@register(
    "swap_adjacent_words",
    description="Swap each pair of neighbouring words (1st↔2nd, 3rd↔4th, …); an involution.",
    deterministic=True,
    check=check_involution,
)
def swap_adjacent_words(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    source = list(range(len(report)))
    for group in report.layout.groups(scope):
        for first, second in zip(group[0::2], group[1::2]):
            source[first], source[second] = second, first
    return Edit(source)


@kernel_for("swap_adjacent_words")
def swap_adjacent_words_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    groups = pack.word_groups(scope)
    rank, index = groups.rank_in_group, counting(len(groups.positions))
    partner = np.where(rank % 2 == 0, np.where(rank + 1 < groups.group_size, index + 1, index), index - 1)
    return moved(pack, groups, partner)


# --- reverse_sentence ------------------------------------------------------------------------


@register(
    "reverse_sentence",
    description="Reverse the word order (of the report, or of each sentence); an involution.",
    deterministic=True,
    check=check_involution,
)
def reverse_sentence(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    source = list(range(len(report)))
    for group in report.layout.groups(scope):
        for slot, drawn in zip(group, reversed(group)):
            source[slot] = drawn
    return Edit(source)


@kernel_for("reverse_sentence")
def reverse_sentence_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    groups = pack.word_groups(scope)
    index = counting(len(groups.positions))
    mirrored = index - 2 * groups.rank_in_group + groups.group_size - 1  # the word at (size-1-rank) in its group
    return moved(pack, groups, mirrored)


# --- shuffle_within_trigrams -----------------------------------------------------------------


def check_within_trigrams(report: ParsedReport, result: PerturbationResult, scope: str, seed: int) -> None:
    """Every word stays inside its trigram."""
    src = result.source_index
    for group in report.layout.groups(scope):
        for trigram in trigrams(group):
            assert sorted(src[p] for p in trigram) == sorted(trigram), f"{result.kind}: a word left its trigram"


@register(
    "shuffle_within_trigrams",
    description="Cut the words into consecutive trigrams and permute the words inside each.",
    check=check_within_trigrams,
)
def shuffle_within_trigrams(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    return shuffle_groups(report, rng, [t for group in report.layout.groups(scope) for t in trigrams(group)])


@kernel_for("shuffle_within_trigrams")
def shuffle_within_trigrams_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    groups = pack.word_groups(scope)
    return permute_within(pack, groups, stream, groups.trigram, groups.n_trigrams, groups.can_change_within_trigrams())


# --- shuffle_trigrams ------------------------------------------------------------------------


def check_trigrams_whole(report: ParsedReport, result: PerturbationResult, scope: str, seed: int) -> None:
    """The trigrams move, each kept whole and in its order."""
    src = result.source_index
    for group in report.layout.groups(scope):
        pieces = {tuple(t) for t in trigrams(group)}
        sequence = [src[p] for p in group]
        k = 0
        while k < len(sequence):
            match = next((c for c in pieces if tuple(sequence[k : k + len(c)]) == c), None)
            assert match is not None, f"{result.kind}: a trigram was broken apart"
            pieces.discard(match)
            k += len(match)


@register(
    "shuffle_trigrams",
    description="Cut the words into consecutive trigrams and permute the trigrams, each kept whole.",
    check=check_trigrams_whole,
)
def shuffle_trigrams(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    """Each group's trigrams sorted by their noise (a trigram's noise key: its index among the
    report's trigrams, after every word's)."""
    noise_of = ReportNoise(rng)
    source = list(range(len(report)))
    counter = TRIGRAM_COUNTERS
    for group in report.layout.groups(scope):
        keyed = []
        for trigram in trigrams(group):
            keyed.append((noise_of.sort_key(counter), trigram))
            counter += 1
        drawn = [slot for _, trigram in sorted(keyed, key=lambda pair: pair[0]) for slot in trigram]
        for slot, word in zip(group, drawn):
            source[slot] = word
    return Edit(source)


@kernel_for("shuffle_trigrams")
def shuffle_trigrams_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    groups = pack.word_groups(scope)
    trigram_noise = noise(stream, groups.trigram_report, groups.trigram_steps)
    rank = np.empty(groups.n_trigrams, dtype=np.intp)
    rank[order_within(groups.trigram_group, trigram_noise, groups.n_groups)] = counting(groups.n_trigrams)
    order = (rank[groups.trigram.astype(np.intp)] * 3 + groups.rank_in_trigram).argsort()
    return moved(pack, groups, order, groups.derived(_trigrams_can_move))


def _trigrams_can_move(groups: WordGroups) -> np.ndarray:
    """Per report: some group has two trigrams to swap and some group two different words (a
    report whose trigrams are all alike is caught by the redraws)."""
    several = np.bincount(groups.trigram_group.astype(np.intp), minlength=groups.n_groups) >= 2
    out = np.zeros(groups.n_reports, dtype=bool)
    out[groups.trigram_report[several[groups.trigram_group.astype(np.intp)]]] = True
    return out & groups.can_change()

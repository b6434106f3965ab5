"""The POS-class kinds of the paper: words of a class move only among that class's slots.

A word belongs to the first class that holds its coarse POS tag (its first word token's);
words of no class stay put. Within each group of the scope, each class is shuffled on its own
(`perturb.kinds.order.shuffle_groups`), so a noun lands only where a noun was.
"""

from __future__ import annotations

import numpy as np

from perturb.batch.kernels import PackedEdit
from perturb.batch.pack import Pack
from perturb.kinds.order import permute_within, shuffle_groups
from perturb.parsed import ParsedReport
from perturb.registry import Edit, kernel_for, register
from perturb.scopes import PosClass

NOUNS = PosClass(frozenset({"NOUN", "PROPN"}))
ADJECTIVES = PosClass(frozenset({"ADJ"}))
VERBS = PosClass(frozenset({"VERB"}))
NOT_NOUNS_OR_ADJ = PosClass(NOUNS.tags | ADJECTIVES.tags, invert=True)


def class_groups(report: ParsedReport, scope: str, classes: tuple[PosClass, ...]) -> list[list[int]]:
    """The slots of each class within each group of `scope`."""
    out = []
    for group in report.layout.groups(scope):
        by_class: list[list[int]] = [[] for _ in classes]
        for slot in group:
            k = next((k for k, pos_class in enumerate(classes) if report.pos[slot] in pos_class), None)
            if k is not None:
                by_class[k].append(slot)
        out += [slots for slots in by_class if slots]
    return out


def shuffle_classes(report: ParsedReport, rng: np.random.Generator, scope: str, classes: tuple[PosClass, ...]) -> Edit:
    return shuffle_groups(report, rng, class_groups(report, scope, classes))


def shuffle_classes_kernel(pack: Pack, stream: np.ndarray, scope: str, classes: tuple[PosClass, ...]) -> PackedEdit:
    groups = pack.word_groups(scope, classes)
    return permute_within(pack, groups, stream, groups.group, groups.n_groups, groups.can_change())


# --- shuffle_nouns_and_adj -------------------------------------------------------------------


@register(
    "shuffle_nouns_and_adj",
    description="Permute nouns among noun slots and adjectives among adjective slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, ADJECTIVES),
)
def shuffle_nouns_and_adj(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    return shuffle_classes(report, rng, scope, (NOUNS, ADJECTIVES))


@kernel_for("shuffle_nouns_and_adj")
def shuffle_nouns_and_adj_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    return shuffle_classes_kernel(pack, stream, scope, (NOUNS, ADJECTIVES))


# --- shuffle_allbut_nouns_and_adj ------------------------------------------------------------


@register(
    "shuffle_allbut_nouns_and_adj",
    description="Permute every word that is not a noun or adjective among those slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOT_NOUNS_OR_ADJ,),
)
def shuffle_allbut_nouns_and_adj(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    return shuffle_classes(report, rng, scope, (NOT_NOUNS_OR_ADJ,))


@kernel_for("shuffle_allbut_nouns_and_adj")
def shuffle_allbut_nouns_and_adj_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    return shuffle_classes_kernel(pack, stream, scope, (NOT_NOUNS_OR_ADJ,))


# --- shuffle_nouns_verbs_adj -----------------------------------------------------------------


@register(
    "shuffle_nouns_verbs_adj",
    description="Permute nouns, verbs and adjectives, each class among its own slots.",
    needs=("pos", "sentences"),
    moves_pos=(NOUNS, VERBS, ADJECTIVES),
)
def shuffle_nouns_verbs_adj(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit:
    return shuffle_classes(report, rng, scope, (NOUNS, VERBS, ADJECTIVES))


@kernel_for("shuffle_nouns_verbs_adj")
def shuffle_nouns_verbs_adj_kernel(pack: Pack, stream: np.ndarray, scope: str) -> PackedEdit:
    return shuffle_classes_kernel(pack, stream, scope, (NOUNS, VERBS, ADJECTIVES))

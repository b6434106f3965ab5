"""The open registry of perturbations: name → spec.

A perturbation is a pure function `fn(report, rng, scope) -> Edit | None` that never parses: it reads
the report's `layout`, draws from the numpy Generator it is given, and says where each output
position takes its word from (plus any word replacements). `None` means it cannot apply to this
report. `perturb.apply` renders, checks that the result differs from the original and redraws.

A perturbation may also carry a batch kernel (`perturb.kernels`) that perturbs many reports in
one call; `perturb.apply_batch` uses it, and must give what the per-report function gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from perturb.parsed import ParsedReport

ENTRY_POINT_GROUP = "radperturb.perturbations"
#: Annotations a perturbation may need from the parser.
ANNOTATIONS = frozenset({"pos", "sentences", "deps"})


class Edit(NamedTuple):
    """What a perturbation does: `source_index[i]` is the slot whose written word lands at slot i
    (`Layout.words`; other positions map to themselves); `replacements` maps a token position to
    a new word, which rewrites the written word holding that token, in its slot's case
    (`perturb.rendering.written_with`: "left" → "right" makes "left-sided" "right-sided")."""

    source_index: Sequence[int]
    replacements: Mapping[int, str] = {}


class PosClass(NamedTuple):
    """Words whose coarse POS is in `tags` (or, with `invert`, is not in them)."""

    tags: frozenset[str]
    invert: bool = False

    def __contains__(self, pos: object) -> bool:
        return (pos in self.tags) != self.invert


PerturbFn = Callable[["ParsedReport", np.random.Generator, str], "Edit | None"]
#: (pack of reports, one stream word per report, scope) -> PackedEdit; see `perturb.kernels`.
BatchFn = Callable[..., Any]


@dataclass(frozen=True)
class PerturbationSpec:
    name: str
    fn: PerturbFn
    description: str
    word_preserving: bool = True
    needs: frozenset[str] = field(default_factory=lambda: frozenset({"sentences"}))
    #: True when the function ignores its rng: redrawing cannot give another result.
    deterministic: bool = False
    #: For POS-based kinds, the classes whose words move, each only among its own slots; words of
    #: no class stay put. None for kinds that move any word.
    moves_pos: tuple[PosClass, ...] | None = None
    #: Optional batch kernel: the same perturbation for many reports per call.
    batch: BatchFn | None = None


PERTURBATIONS: dict[str, PerturbationSpec] = {}
#: Named sets of kinds that `resolve_kinds` expands ("paper", "clinical").
KIND_SETS: dict[str, tuple[str, ...]] = {}


def register(
    name: str,
    *,
    description: str,
    word_preserving: bool = True,
    needs: Iterable[str] = ("sentences",),
    deterministic: bool = False,
    moves_pos: Iterable[PosClass] | None = None,
    batch: BatchFn | None = None,
    replace: bool = False,
) -> Callable[[PerturbFn], PerturbFn]:
    """Decorator: register `fn` under `name` so that `apply`, the CLI, the collator and
    `perturb.testing` all see it."""
    needs_set = frozenset(needs)
    unknown = needs_set - ANNOTATIONS
    if unknown:
        raise ValueError(f"unknown annotations {sorted(unknown)}; known: {sorted(ANNOTATIONS)}")

    def decorator(fn: PerturbFn) -> PerturbFn:
        if name in PERTURBATIONS and not replace:
            raise ValueError(f"perturbation {name!r} is already registered (pass replace=True)")
        PERTURBATIONS[name] = PerturbationSpec(
            name=name,
            fn=fn,
            description=description,
            word_preserving=word_preserving,
            needs=needs_set,
            deterministic=deterministic,
            moves_pos=None if moves_pos is None else tuple(moves_pos),
            batch=batch,
        )
        return fn

    return decorator


def get(name: str) -> PerturbationSpec:
    """The spec for `name`, or a `KeyError` that lists the registered names."""
    try:
        return PERTURBATIONS[name]
    except KeyError:
        known = ", ".join(PERTURBATIONS)
        raise KeyError(f"unknown perturbation {name!r}; registered: {known}") from None


def register_set(name: str, kinds: Iterable[str]) -> None:
    """Name a set of kinds, so that `resolve_kinds` (and `--kinds`) accepts the name for them."""
    KIND_SETS[name] = tuple(kinds)


def resolve_kinds(kinds: Iterable[str] | str | None) -> list[str]:
    """Names from a list, a comma-separated string or "all"/None (every registered kind); a
    set's name (`KIND_SETS`: "paper", "clinical") stands for its kinds."""
    if kinds is None or kinds == "all":
        return list(PERTURBATIONS)
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    names = list(dict.fromkeys(n for kind in kinds for n in KIND_SETS.get(kind, (kind,))))
    if "all" in names:
        return list(PERTURBATIONS)
    for name in names:
        get(name)
    return names


def load_plugins(modules: Iterable[str] = (), *, entry_point_group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Import user modules that register perturbations: explicit module paths, then every module
    named in the entry point group. Returns the names newly registered."""
    before = set(PERTURBATIONS)
    for module in modules:
        import_module(module)
    for ep in entry_points(group=entry_point_group):
        ep.load()
    return [name for name in PERTURBATIONS if name not in before]

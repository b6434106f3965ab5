"""Batch kernels: perturbations written once against a `Pack`, run on one report or thousands.

A kernel takes (pack, words, scope): `words[r]` is the 64-bit word report r's random stream gave
for this attempt (`perturb.seeding.stream_words`), and all its noise comes from it
(`perturb.noise`). It returns a `PackedEdit` in the pack's global positions.
`register_kernel` registers the kernel for `apply_batch` and, as the per-report function
`apply` calls, the same kernel on a pack of one report keyed on one word from the report's
Generator — so the two paths agree by construction, redraws included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from perturb.packed import Pack, Substitute
from perturb.parsed import ParsedReport
from perturb.registry import Edit, PerturbFn, register


class PackedEdit(NamedTuple):
    """`source_index[g]`: the global slot whose written word lands at global slot g (every other
    position maps to itself; see `perturb.registry.Edit`).
    `replacements`: the word replacements, either as a `Substitute` — the candidates chosen in
    this draw (fast: `Candidates.of` renders each report's candidates once) — or as one mapping
    per report (local position → new word, or None for none), or None for none at all.
    `applicable[r]`: False where the perturbation cannot apply to report r (None: it applies to all)."""

    source_index: np.ndarray
    replacements: Substitute | Sequence[Mapping[int, str] | None] | None = None
    applicable: np.ndarray | None = None


Kernel = Callable[[Pack, np.ndarray, str], PackedEdit]


def per_report(kernel: Kernel) -> PerturbFn:
    """The per-report `(report, rng, scope)` function of a kernel: the kernel on a pack of one."""

    def fn(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
        words = np.array([rng.bit_generator.random_raw()], dtype=np.uint64)
        edit = kernel(Pack((report,)), words, scope)
        if edit.applicable is not None and not edit.applicable[0]:
            return None
        replaced = edit.replacements
        if isinstance(replaced, Substitute):
            return Edit(edit.source_index, replaced.mapping(0))
        return Edit(edit.source_index, (replaced[0] or {}) if replaced is not None else {})

    fn.__name__ = fn.__qualname__ = kernel.__name__
    fn.__doc__ = kernel.__doc__
    return fn


def register_kernel(name: str, **spec: object) -> Callable[[Kernel], Kernel]:
    """Decorator: register a kernel under `name` (keyword arguments as for `perturb.register`)."""

    def decorator(kernel: Kernel) -> Kernel:
        register(name, batch=kernel, **spec)(per_report(kernel))  # type: ignore[arg-type]
        return kernel

    return decorator

"""Batch kernels: a kind written once against a `Pack`, run on one report or thousands.

A kernel takes `(pack, stream, scope)`: `stream[r]` is the 64-bit value report r's random
stream gave for this attempt (`perturb.seeding.stream_words`), and all its noise comes from it
(`perturb.noise`). It returns a `PackedEdit` in the pack's global positions. It is registered
beneath its kind's reference (`perturb.registry.kernel_for`) and must give what the reference
gives: `apply` runs it on a pack of one report, keyed on one `random_raw()` of the report's
Generator per attempt, which is what the reference's `ReportNoise(rng)` takes too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from perturb.batch.candidates import Substitute
from perturb.batch.pack import Pack


class PackedEdit(NamedTuple):
    """`source_index[g]`: the global slot whose written word lands at global slot g (every other
    position maps to itself; see `perturb.registry.Edit`).
    `replacements`: the candidates chosen in this draw (`Substitute`; `Candidates.of` renders each
    report's candidates once, `Substitute.of` makes one from per-report mappings), or None.
    `applicable[r]`: False where the perturbation cannot apply to report r (None: it applies to
    all) — a shortcut: where no draw can differ from the original, none is tried."""

    source_index: np.ndarray
    replacements: Substitute | None = None
    applicable: np.ndarray | None = None


Kernel = Callable[[Pack, np.ndarray, str], PackedEdit]

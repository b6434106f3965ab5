"""Counter-based noise for the built-in perturbations, in two forms that give the same numbers.

Each attempt of a report takes one 64-bit value from the report's random stream (its "stream
value", `perturb.seeding`), and each word's noise is a pure function of that value and the
word's counter (its index among the report's words): the SplitMix64 sequence started at the
stream value. So a report draws the same noise alone or packed among thousands of others.
`ReportNoise` computes it in plain Python for the readable references (`perturb.kinds`);
`noise` computes it for a whole pack in one numpy call for the batch kernels.
"""

from __future__ import annotations

import numpy as np

from perturb.errors import UsageError

_GOLDEN_INT = 0x9E3779B97F4A7C15
_MIX1_INT = 0xBF58476D1CE4E5B9
_MIX2_INT = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(_GOLDEN_INT)
_MIX1 = np.uint64(_MIX1_INT)
_MIX2 = np.uint64(_MIX2_INT)
_ONE = np.uint64(1)
#: Trigram noise counters start here, so that they never reuse a word's counter.
TRIGRAM_COUNTERS = 1 << 32
#: Sort keys are (group << 40) | (the top 40 bits of the noise): at most 2**24 groups per call.
MAX_GROUPS = 1 << 24
_GROUP_SHIFT = np.uint64(40)
SORT_SHIFT = 24
_SORT_SHIFT = np.uint64(SORT_SHIFT)


class ReportNoise:
    """One attempt's noise for one report: `ReportNoise(rng)` takes the attempt's stream value
    (one `random_raw()` of the report's Generator, as the kernels' `stream[r]` holds it)."""

    __slots__ = ("value",)

    def __init__(self, rng: np.random.Generator) -> None:
        self.value = int(rng.bit_generator.random_raw())

    def __call__(self, counter: int) -> int:
        """The 64-bit noise of the item with `counter` (SplitMix64 step `counter + 1`)."""
        z = (self.value + (counter + 1) * _GOLDEN_INT) & _MASK64
        z = ((z ^ (z >> 30)) * _MIX1_INT) & _MASK64
        z = ((z ^ (z >> 27)) * _MIX2_INT) & _MASK64
        return z ^ (z >> 31)

    def sort_key(self, counter: int) -> int:
        """What a shuffle sorts by: the noise's top 40 bits (ties keep their order)."""
        return self(counter) >> SORT_SHIFT


def counter_steps(counter: np.ndarray) -> np.ndarray:
    """Where each counter sits in the SplitMix64 sequence, (counter + 1)·γ: computed once per
    `WordGroups`, since every draw of every kind reuses it."""
    return (counter.astype(np.uint64) + _ONE) * _GOLDEN


def noise(stream: np.ndarray, report_of: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Uniform uint64 noise for each (report `report_of`, counter at `steps`) pair, from the
    reports' `stream` values."""
    z = (stream if len(stream) == 1 else stream[report_of]) + steps  # one report: broadcast, no gather
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def order_within(group: np.ndarray, noise_values: np.ndarray, n_groups: int) -> np.ndarray:
    """The order that sorts items by group, and randomly (by their noise) within each group: a
    uniform permutation inside every group that leaves the groups where they are. Items whose
    noise ties keep their order, the same in a batch of one as in a batch of thousands."""
    if n_groups >= MAX_GROUPS:
        raise UsageError(f"{n_groups:,} perturbation groups in one call; at most {MAX_GROUPS:,} (pass fewer reports)")
    keys = (group << _GROUP_SHIFT) | (noise_values >> _SORT_SHIFT)
    return keys.argsort(kind="stable")

"""Counter-based noise for the built-in perturbations.

Each word's noise is a pure function of its report's 64-bit stream word (`perturb.seeding`) and
the word's counter — the SplitMix64 sequence started at the stream word — so a report draws the
same noise alone or packed among thousands of others, and one numpy call makes all of it.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
#: Trigram noise counters start here, so that they never reuse a word's counter.
TRIGRAM_COUNTERS = 1 << 32
#: Sort keys are (unit << 40) | (the top 40 bits of the noise): at most 2**24 units per call.
MAX_UNITS = 1 << 24
_UNIT_SHIFT = np.uint64(40)
_NOISE_SHIFT = np.uint64(24)


def counter_steps(counter: np.ndarray) -> np.ndarray:
    """Where each counter sits in the SplitMix64 sequence, (counter + 1)·γ: computed once per
    `Units`, since every draw of every kind reuses it."""
    return (counter.astype(np.uint64) + _ONE) * _GOLDEN


def noise(words: np.ndarray, owner: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Uniform uint64 noise for each (report `owner`, counter at `steps`) pair, from the reports'
    stream `words`."""
    z = (words if len(words) == 1 else words[owner]) + steps  # one report: broadcast, no gather
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def order_within(unit: np.ndarray, noise_values: np.ndarray, n_units: int) -> np.ndarray:
    """The order that sorts items by unit, and randomly (by their noise) within each unit: a
    uniform permutation inside every unit that leaves the units where they are. Items whose noise
    ties keep their order, the same in a batch of one as in a batch of thousands."""
    if n_units >= MAX_UNITS:
        raise ValueError(f"{n_units:,} perturbation units in one call; at most {MAX_UNITS:,} (pass fewer reports)")
    keys = (unit << _UNIT_SHIFT) | (noise_values >> _NOISE_SHIFT)
    return keys.argsort(kind="stable")

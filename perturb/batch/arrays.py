"""Index-array helpers shared by the batch machinery and the renderer."""

from __future__ import annotations

import numpy as np

_COUNTING = np.arange(1 << 16, dtype=np.int64)
_COUNTING.flags.writeable = False


def counting(n: int) -> np.ndarray:
    """0, 1, ..., n-1 as a read-only view of one shared array (grown when too short): the
    renderer needs one as long as its output in bytes on every call, and filling it anew cost
    more than adding it."""
    global _COUNTING
    if len(_COUNTING) < n:
        _COUNTING = np.arange(max(n, 2 * len(_COUNTING)), dtype=np.int64)
        _COUNTING.flags.writeable = False
    return _COUNTING[:n]


def exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    """Where each count's run starts when the counts are laid end to end."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def stable_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """The stable sort order of non-negative integer `keys` below `bound` (radix sort when they
    fit in 16 bits)."""
    if bound <= 1 << 16:
        return keys.astype(np.uint16).argsort(kind="stable")
    return keys.argsort(kind="stable")

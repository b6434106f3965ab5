"""Per-(seed, record, kind, draw) random streams that are stable everywhere and cheap to make.

Same inputs give the same stream in any process, batch composition or PYTHONHASHSEED. A fresh
`SeedSequence` + `Generator` costs about 20 µs, more than a perturbation itself, so the expensive
part is split: `SeedSequence((seed, draw, kind))` is mixed once and cached (few distinct values),
the record key is hashed with BLAKE2b per call (~1.5 µs), and the two are combined into the state of
a thread-local PCG64 generator. Global `random`/`numpy` state is never touched.

The built-in perturbations take one 64-bit word from their stream per attempt and key all their
noise on it (`perturb.noise`), so `stream_words` can compute that word for thousands of streams in
a few numpy calls — the value `stream(...).bit_generator.random_raw()` returns — and the batch
path (`perturb.batch`) needs no Generator per report.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from perturb.errors import UsageError

_MASK128 = (1 << 128) - 1
_local = threading.local()


def _words(text: str) -> list[int]:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


@lru_cache(maxsize=16384)
def _stream_base(seed: int, kind: str, draw: int) -> tuple[int, int]:
    if seed < 0 or draw < 0:
        raise UsageError(f"seed and draw must be non-negative integers, got seed={seed}, draw={draw}")
    state = np.random.SeedSequence([seed, draw, *_words(kind)]).generate_state(8, np.uint32)
    words = [int(w) for w in state]
    base = sum(w << (32 * i) for i, w in enumerate(words[:4]))
    inc = sum(w << (32 * i) for i, w in enumerate(words[4:]))
    return base, inc | 1


def key_hash(key: object) -> int:
    """A 128-bit hash of a record key, stable across processes (unlike `hash`)."""
    return _text_hash(str(key))


@lru_cache(maxsize=1 << 16)  # training re-hashes the same record ids every epoch
def _text_hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest, "little")


def stream(seed: int, key: int, kind: str, draw: int = 0) -> np.random.Generator:
    """The generator for one (seed, record key hash from `key_hash`, kind, draw). Thread-local and
    reseeded on every call: use it before asking for the next stream."""
    base, inc = _stream_base(int(seed), kind, int(draw))
    generator = getattr(_local, "generator", None)
    if generator is None:
        generator = _local.generator = np.random.Generator(np.random.PCG64(0))
    generator.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (base ^ key) & _MASK128, "inc": inc},
        "has_uint32": 0,
        "uinteger": 0,
    }
    return generator


#: PCG64's 128-bit multiplier, split into 64-bit halves.
_MULT_HI = np.uint64(0x2360ED051FC65DA4)
_MULT_LO = np.uint64(0x4385DF649FCCF645)
_LOW32 = np.uint64(0xFFFFFFFF)
_MASK64 = (1 << 64) - 1


def _mulhi(a: np.ndarray, b: np.uint64) -> np.ndarray:
    """The high 64 bits of the 128-bit products a·b, from 32-bit halves (numpy has no 128-bit int)."""
    a0, a1 = a & _LOW32, a >> np.uint64(32)
    b0, b1 = b & _LOW32, b >> np.uint64(32)
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> np.uint64(32)) + (p01 & _LOW32) + (p10 & _LOW32)
    return a1 * b1 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))


class KeyHashes(NamedTuple):
    """Record key hashes (`key_hash`) as Python ints, for `stream`, and as low and high uint64
    halves, for `stream_words`."""

    ints: list[int]
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, hashes: list[int]) -> "KeyHashes":
        lo = np.fromiter((h & _MASK64 for h in hashes), np.uint64, len(hashes))
        hi = np.fromiter((h >> 64 for h in hashes), np.uint64, len(hashes))
        return cls(hashes, lo, hi)

    def part(self, where: slice) -> "KeyHashes":
        return KeyHashes(self.ints[where], self.lo[where], self.hi[where])

    def take(self, indices: list[int]) -> "KeyHashes":
        return KeyHashes([self.ints[i] for i in indices], self.lo[indices], self.hi[indices])


def _step(lo: np.ndarray, hi: np.ndarray, inc_lo: np.ndarray, inc_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One PCG64 step on 128-bit states held as uint64 halves: state·M + inc (mod 2¹²⁸)."""
    product_lo = lo * _MULT_LO
    product_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
    new_lo = product_lo + inc_lo
    new_hi = product_hi + inc_hi + (new_lo < product_lo).astype(np.uint64)
    return new_lo, new_hi


def _outputs(
    lo: np.ndarray, hi: np.ndarray, inc_lo: np.ndarray, inc_hi: np.ndarray, attempts: range
) -> np.ndarray:
    """PCG64 steps from the states (lo, hi) and the XSL-RR output of each step in `attempts`."""
    out = []
    for attempt in range(attempts.stop):
        lo, hi = _step(lo, hi, inc_lo, inc_hi)
        if attempt >= attempts.start:
            mixed = hi ^ lo
            rotation = hi >> np.uint64(58)
            out.append((mixed >> rotation) | (mixed << ((np.uint64(64) - rotation) & np.uint64(63))))
    return np.stack(out)


def _halves(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(base, inc) Python-int pairs as uint64 arrays: base low/high, inc low/high."""
    return tuple(  # type: ignore[return-value]
        np.array([(value >> shift) & _MASK64 for value in column], dtype=np.uint64)
        for column in (pairs[:, 0], pairs[:, 1])
        for shift in (0, 64)
    )


def stream_words(
    seed: int, kind: str, draws: np.ndarray, keys: KeyHashes, attempts: range = range(1)
) -> np.ndarray:
    """`words[a, i]`: word number `attempts[a]` (from 0) of `stream(seed, keys.ints[i], kind,
    draws[i])` — what its `bit_generator.random_raw()` returns on call `attempts[a]` — for all i at
    once: PCG64 steps and the XSL-RR output, in numpy."""
    draws = np.asarray(draws, dtype=np.int64)
    if len(draws) and draws.min() == draws.max():  # the usual case: one stream base for all
        distinct, which = draws[:1], np.zeros(len(draws), dtype=np.intp)
    else:
        distinct, which = np.unique(draws, return_inverse=True)
    pairs = np.array([_stream_base(int(seed), kind, int(d)) for d in distinct.tolist()], dtype=object).reshape(-1, 2)
    base_lo, base_hi, inc_lo, inc_hi = (half[which] for half in _halves(pairs))
    return _outputs(keys.lo ^ base_lo, keys.hi ^ base_hi, inc_lo, inc_hi, attempts)


def stream_word_rows(seed: int, streams: list[tuple[str, int]], keys: KeyHashes) -> np.ndarray:
    """`words[s, i]`: the first word of `stream(seed, keys.ints[i], *streams[s])`: every kind and
    draw of a batch in one pass."""
    if not streams:
        return np.zeros((0, len(keys.ints)), dtype=np.uint64)
    pairs = np.array([_stream_base(int(seed), kind, int(draw)) for kind, draw in streams], dtype=object)
    base_lo, base_hi, inc_lo, inc_hi = (half[:, None] for half in _halves(pairs))
    return _outputs(keys.lo ^ base_lo, keys.hi ^ base_hi, inc_lo, inc_hi, range(1))[0]

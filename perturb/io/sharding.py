"""`--shard I/N`: a deterministic split of a corpus by record key.

Each shard reads the whole input and keeps the records whose key hashes to it, so N jobs (a SLURM
array, several machines) need no coordination, and the union of their outputs is exactly the
unsharded output. The hash is BLAKE2b, stable across processes and Python versions (unlike `hash`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from perturb.errors import UsageError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, spec: str | None) -> Shard:
        """`I/N` with 0 ≤ I < N; None means the whole corpus (0/1)."""
        if spec is None:
            return cls(0, 1)
        match = _SHARD.match(spec)
        if match:
            index, count = int(match[1]), int(match[2])
            if 0 <= index < count:
                return cls(index, count)
        raise UsageError(
            f"bad --shard {spec!r}: expected I/N with 0 <= I < N, e.g. 0/4 … 3/4 "
            "(SLURM: --array=0-3 and --shard $SLURM_ARRAY_TASK_ID/4)"
        )

    def owns(self, key: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.blake2b(
            key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"rp-shard"
        ).digest()
        return int.from_bytes(digest, "little") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

"""How the library reports progress: through a callback that its caller passes. The library
draws no bar; `radperturb` draws one per stage (cli/progress.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int, values: Mapping[str, float] | None = None) -> None:
        """`done` more items of `stage` are finished, of `total`; `values` (losses, a rate) are
        the stage's latest figures, shown beside its bar."""


def silent(stage: str, done: int, total: int, values: Mapping[str, float] | None = None) -> None:
    """The progress of work nobody watches."""

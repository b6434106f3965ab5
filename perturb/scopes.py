"""What a perturbation moves within: its scope and, for POS-based kinds, the POS classes.

A leaf of the engine (it imports nothing of it), so that the report's index structures, the
registry and the batch machinery can all name these without importing each other.
"""

from __future__ import annotations

from typing import NamedTuple

from perturb.errors import UsageError

#: A perturbation moves words within the whole report or within each sentence.
SCOPES = ("report", "sentence")


def check_scope(scope: str) -> None:
    """`UsageError` unless `scope` is one of `SCOPES`."""
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}: expected one of {SCOPES}")


class PosClass(NamedTuple):
    """Words whose coarse POS is in `tags` (or, with `invert`, is not in them)."""

    tags: frozenset[str]
    invert: bool = False

    def __contains__(self, pos: object) -> bool:
        return (pos in self.tags) != self.invert

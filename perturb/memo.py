"""`Memo`: a per-object cache for values derived from the object alone.

Layouts, packs and units are reused by every draw of every kind, so what a perturbation derives
from them is computed once and kept on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Memo:
    """Mixin: `memo(key, factory)` returns the value stored under `key`, made by `factory()` on
    first use. Subclasses set `self._memo = {}`."""

    __slots__ = ()
    _memo: dict[object, object]

    def memo(self, key: object, factory: Callable[[], T]) -> T:
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = self._memo[key] = factory()
            return value

    def remembered(self, key: object) -> object | None:
        """What `memo` holds under `key`, or None."""
        return self._memo.get(key)

    def remember(self, key: object, value: object) -> None:
        """Store what `memo(key, ...)` will return (for values computed for many objects at once)."""
        self._memo[key] = value

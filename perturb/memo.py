"""`Memo`: the engine's one cache — values derived from an object alone, kept on the object.

Layouts, packs and word groups are reused by every draw of every kind, so what is derived from
them is computed on first use and kept there, keyed by the function that derives it and its
arguments: `obj.derived(make, *args)` is `make(obj, *args)`, made once. No key is a string that
two places must spell alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """Mixin for slotted classes; subclasses set `self._memo = {}`."""

    __slots__ = ()
    _memo: dict[tuple[Any, ...], Any]

    def derived(self, make: Callable[..., T], *args: Any) -> T:
        """`make(self, *args)`, computed on the first call and kept."""
        key = (make, *args)
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make(self, *args)
            return value

    def known(self, make: Callable[..., T], *args: Any) -> T | None:
        """What `derived(make, *args)` holds, or None when it was never computed."""
        return self._memo.get((make, *args))

    def keep(self, value: T, make: Callable[..., T], *args: Any) -> None:
        """Store what `derived(make, *args)` will return (values computed for many objects at once)."""
        self._memo[(make, *args)] = value


def memoized(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a method of a `Memo`: its value for given arguments is computed once."""

    @wraps(method)
    def cached(self: Memo, *args: Any) -> T:
        return self.derived(method, *args)

    return cached

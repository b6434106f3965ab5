"""`PerturbationResult`: one negative, with its provenance.

Training reads only `text`, so a result made in a batch keeps its source indices as a span of the
batch's array and renders its tokens on first access; results compare equal by what they say,
however made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from perturb.parsed import ParsedReport
from perturb.rendering import render


class Replacement(NamedTuple):
    position: int
    old: str
    new: str


class PerturbationResult:
    """One negative. When `applicable` is False, `text` is the original and nothing moved.

    `source_index[i]`: the input position whose word is at output position i; `tokens`: the
    output tokens; `replacements`: words replaced (position, old, new as rendered)."""

    __slots__ = ("kind", "text", "applicable", "replacements", "draw", "_report", "_source", "_span", "_tokens")

    def __init__(
        self,
        kind: str,
        text: str,
        applicable: bool,
        source_index: Sequence[int] | np.ndarray,
        replacements: tuple[Replacement, ...],
        draw: int,
        report: ParsedReport,
        tokens: tuple[str, ...] | None = None,
        span: tuple[int, int] | None = None,
    ) -> None:
        """`span`: where in `source_index` (a batch's array) this result's indices lie."""
        # Positional arguments and plain assignments: a training batch makes thousands of these.
        self.kind = kind
        self.text = text
        self.applicable = applicable
        self.replacements = replacements
        self.draw = draw
        self._report = report
        self._source = source_index
        self._span = span
        self._tokens = tokens

    @property
    def source_index(self) -> tuple[int, ...]:
        if not isinstance(self._source, tuple):
            source = np.asarray(self._source)
            if self._span is not None:
                source = source[self._span[0] : self._span[1]]
            self._source = tuple(source.tolist())
        return self._source

    @property
    def tokens(self) -> tuple[str, ...]:
        if self._tokens is None:
            tokens = render(self._report, self.source_index)
            if self.replacements:
                edited = list(tokens)
                for position, _, new in self.replacements:
                    edited[position] = new
                tokens = tuple(edited)
            self._tokens = tokens
        return self._tokens

    @property
    def moved(self) -> tuple[int, ...]:
        """Output positions whose word came from elsewhere."""
        return tuple(i for i, j in enumerate(self.source_index) if i != j)

    def with_draw(self, draw: int) -> "PerturbationResult":
        """The same negative under another draw index (deterministic kinds)."""
        return PerturbationResult(
            self.kind, self.text, self.applicable, self.source_index, self.replacements, draw, self._report, self._tokens
        )

    def _key(self) -> tuple[object, ...]:
        return (self.kind, self.text, self.applicable, self.source_index, self.replacements, self.draw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PerturbationResult):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"PerturbationResult(kind={self.kind!r}, text={self.text!r}, applicable={self.applicable}, "
            f"replacements={self.replacements!r}, draw={self.draw})"
        )

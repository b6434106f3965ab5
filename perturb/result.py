"""`PerturbationResult`: one negative, with its provenance.

Training reads only `text`, so a result made in a batch keeps its source indices as a span of the
batch's array and renders its tokens only when asked (on every access: a result is immutable);
results compare equal by what they say, however made.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from perturb.parsed import ParsedReport
from perturb.rendering import render


class Replacement(NamedTuple):
    position: int
    old: str
    new: str


class PerturbationResult(tuple):
    """One negative. When `applicable` is False, `text` is the original and nothing moved.

    `source_index[i]`: the input slot whose written word is at output slot i (`Layout.words`;
    a glued word such as "left-sided" moves whole from its first word token); `tokens`: one entry
    per input token: at each slot the whole written word that landed there, "" at the written
    word's other tokens, punctuation and whitespace tokens as they were — so
    `"".join(t + w for t, w in zip(tokens, report.whitespace)) == text`; `replacements`: the
    written words rewritten (slot, old, new, as written).

    A tuple underneath, so that a batch makes thousands of them without running Python code for
    each (`PerturbationResult.make`); what it stores is read through the named properties.
    """

    __slots__ = ()

    def __new__(
        cls,
        kind: str,
        text: str,
        applicable: bool,
        source_index: Sequence[int] | np.ndarray,
        replacements: tuple[Replacement, ...],
        draw: int,
        report: ParsedReport,
        tokens: tuple[str, ...] | None = None,
        span: tuple[int, int] | None = None,
    ) -> PerturbationResult:
        """`span`: where in `source_index` — then a batch's array of global positions, whose
        report starts at `span[0]` — this result's indices lie; `tokens`: the output tokens when
        already rendered."""
        return tuple.__new__(cls, (kind, text, applicable, replacements, draw, report, source_index, span, tokens))

    #: `make(fields)` from (kind, text, applicable, replacements, draw, report, source_index, span, tokens).
    make = classmethod(tuple.__new__)

    kind: str = property(itemgetter(0))  # type: ignore[assignment]
    text: str = property(itemgetter(1))  # type: ignore[assignment]
    applicable: bool = property(itemgetter(2))  # type: ignore[assignment]
    replacements: tuple[Replacement, ...] = property(itemgetter(3))  # type: ignore[assignment]
    draw: int = property(itemgetter(4))  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, ...]:
        """Pickles this result's own source indices, not the batch's whole array."""
        kind, text, applicable, replacements, draw, report, _, _, tokens = self
        fields = (kind, text, applicable, replacements, draw, report, self.source_index, None, tokens)
        return (tuple.__new__, (type(self), fields))

    @property
    def source_index(self) -> tuple[int, ...]:
        source, span = self[6], self[7]
        if isinstance(source, tuple):
            return source
        source = np.asarray(source)
        if span is None:
            return tuple(source.tolist())
        start, stop = span
        return tuple((source[start:stop] - start).tolist())

    @property
    def tokens(self) -> tuple[str, ...]:
        if self[8] is not None:
            return self[8]
        tokens = render(self[5], self.source_index)
        if self.replacements:
            edited = list(tokens)
            for position, _, new in self.replacements:
                edited[position] = new
            tokens = tuple(edited)
        return tokens

    @property
    def moved(self) -> tuple[int, ...]:
        """Output positions whose word came from elsewhere."""
        return tuple(i for i, j in enumerate(self.source_index) if i != j)

    def with_draw(self, draw: int) -> PerturbationResult:
        """The same negative under another draw index (deterministic kinds)."""
        return PerturbationResult(
            self.kind, self.text, self.applicable, self.source_index, self.replacements, draw, self[5], self[8]
        )

    def _key(self) -> tuple[object, ...]:
        return (self.kind, self.text, self.applicable, self.source_index, self.replacements, self.draw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PerturbationResult):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"PerturbationResult(kind={self.kind!r}, text={self.text!r}, applicable={self.applicable}, "
            f"replacements={self.replacements!r}, draw={self.draw})"
        )

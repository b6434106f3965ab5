"""Apply registered perturbations to parsed reports and render the results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from perturb.casing import render_like
from perturb.layout import SCOPES, Layout
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get, resolve_kinds
from perturb.seeding import key_hash, stream

#: How often a draw that reproduces the original is redrawn before giving up.
MAX_REDRAWS = 8


class Replacement(NamedTuple):
    position: int
    old: str
    new: str


class PerturbationResult(NamedTuple):
    """One negative. When `applicable` is False, `text` is the original and nothing moved."""

    kind: str
    text: str
    tokens: tuple[str, ...]
    applicable: bool
    source_index: tuple[int, ...]
    replacements: tuple[Replacement, ...] = ()
    draw: int = 0

    @property
    def moved(self) -> tuple[int, ...]:
        """Output positions whose word came from elsewhere."""
        return tuple(i for i, j in enumerate(self.source_index) if i != j)


def render(
    report: ParsedReport, source_index: Sequence[int], replacements: Mapping[int, str] = {}
) -> tuple[str, ...]:
    """Output tokens: the word from `source_index[i]` (or its replacement) in position i's case."""
    layout = report.layout
    gather = (np.asarray(source_index, dtype=np.intp) + layout.capital_offset).tolist()
    table = layout.table
    tokens = itemgetter(*gather)(table) if len(gather) > 1 else tuple(table[j] for j in gather)
    if not replacements:
        return tokens
    edited = list(tokens)
    for i, word in replacements.items():
        original = report.tokens[i]
        shout = original.isupper() and len(original) > 1
        edited[i] = word.upper() if shout else render_like(word, layout.capital[i])
    return tuple(edited)


def _join(tokens: Sequence[str], whitespace: Sequence[str]) -> str:
    pieces: list[str] = [""] * (2 * len(tokens))
    pieces[::2] = tokens
    pieces[1::2] = whitespace
    return "".join(pieces)


def _not_applicable(layout: Layout, kind: str, draw: int) -> PerturbationResult:
    identity = tuple(range(layout.n))
    return PerturbationResult(kind, layout.text, layout.tokens, False, identity, (), draw)


def _apply(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    layout = report.layout
    if not layout.words:
        return _not_applicable(layout, spec.name, draw)
    if spec.deterministic:  # the same for every seed and draw: computed once per report
        result = layout.memo(
            ("result", spec.fn, scope), lambda: _draw(report, spec, seed, key, 0, scope)
        )
        return result if result.draw == draw else result._replace(draw=draw)
    return _draw(report, spec, seed, key, draw, scope)


def _draw(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    layout = report.layout
    rng = stream(seed, key, spec.name, draw)
    for _ in range(1 if spec.deterministic else MAX_REDRAWS):
        edit = spec.fn(report, rng, scope)
        if edit is None:
            break
        source_index, replacements = edit
        tokens = render(report, source_index, replacements)
        text = _join(tokens, report.whitespace)
        if text != layout.text:
            made = (
                tuple(Replacement(i, report.tokens[i], tokens[i]) for i in sorted(replacements))
                if replacements
                else ()
            )
            src = tuple(np.asarray(source_index).tolist())
            return PerturbationResult(spec.name, text, tokens, True, src, made, draw)
    return _not_applicable(layout, spec.name, draw)


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")


def apply(
    report: ParsedReport,
    name: str,
    *,
    seed: int,
    scope: str = "report",
    key: object = None,
    draw: int = 0,
) -> PerturbationResult:
    """Perturb `report` with the registered perturbation `name`.

    The random stream is derived from (seed, key, name, draw); `key` defaults to the report text,
    so pass the record id when two records may share a text but should get different negatives.
    A result is never a copy of the original: a draw that reproduces it is redrawn (bounded), and
    if none differs the result says `applicable=False`.
    """
    _check_scope(scope)
    spec = get(name)
    return _apply(report, spec, seed, key_hash(report.text if key is None else key), draw, scope)


def apply_many(
    report: ParsedReport,
    kinds: Iterable[str] | str | None = None,
    *,
    seed: int,
    draws: int = 1,
    scope: str = "report",
    key: object = None,
) -> list[PerturbationResult]:
    """Every requested kind (default: all registered), `draws` draws each, in kind-major order.
    Each result equals the matching single `apply` call, whatever else is in the batch."""
    _check_scope(scope)
    specs = [get(name) for name in resolve_kinds(kinds)]
    hashed = key_hash(report.text if key is None else key)
    return [_apply(report, spec, seed, hashed, d, scope) for spec in specs for d in range(draws)]

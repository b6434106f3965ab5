"""Apply registered perturbations to parsed reports and render the results."""

from __future__ import annotations

from collections.abc import Iterable

from perturb.layout import SCOPES, Layout
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get, resolve_kinds
from perturb.rendering import join, render
from perturb.result import PerturbationResult, Replacement
from perturb.seeding import key_hash, stream

#: How often a draw that reproduces the original is redrawn before giving up.
MAX_REDRAWS = 8


def _not_applicable(layout: Layout, kind: str, draw: int) -> PerturbationResult:
    return PerturbationResult(kind, layout.text, False, layout.identity, (), draw, layout.report, layout.tokens)


def deterministic_memo_key(spec: PerturbationSpec, scope: str) -> tuple[object, ...]:
    """Where a deterministic kind's result for a report is remembered (`Layout.memo`)."""
    return ("result", spec.fn, scope)


def _apply(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    layout = report.layout
    if not layout.words:
        return _not_applicable(layout, spec.name, draw)
    if spec.deterministic:  # the same for every seed and draw: computed once per report
        result = layout.memo(deterministic_memo_key(spec, scope), lambda: _draw(report, spec, seed, key, 0, scope))
        return result if result.draw == draw else result.with_draw(draw)
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
        text = join(tokens, report.whitespace)
        if text != layout.text:
            slots = sorted({layout.head[i] for i in replacements})
            made = tuple(Replacement(slot, layout.tokens[slot], tokens[slot]) for slot in slots)
            return PerturbationResult(spec.name, text, True, source_index, made, draw, report, tokens)
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

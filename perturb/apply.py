"""Apply registered perturbations to one parsed report and render the results."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from perturb.batch.pack import Pack
from perturb.layout import Layout
from perturb.parsed import ParsedReport
from perturb.registry import Edit, PerturbationSpec, get, resolve_kinds
from perturb.rendering import render_one, render_texts, replaced_words
from perturb.result import PerturbationResult, Replacement
from perturb.scopes import check_scope
from perturb.seeding import key_hash, stream

#: How often a draw that reproduces the original is redrawn before giving up.
MAX_REDRAWS = 8


def not_applicable(layout: Layout, kind: str, draw: int) -> PerturbationResult:
    """The result of a kind that cannot change this report: the original, nothing moved."""
    return PerturbationResult(kind, layout.text, False, layout.identity, (), draw, layout.report, None, layout.tokens)


def deterministic_result(layout: Layout, spec: PerturbationSpec, scope: str) -> PerturbationResult:
    """A deterministic kind's result for the report (kept on its layout: it is the same for every
    seed, key and draw; `draw` says 0)."""
    return _draw(layout.report, spec, 0, 0, 0, scope)


def apply_spec(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    """`apply` with the spec at hand and the key already hashed (`perturb.seeding.key_hash`)."""
    layout = report.layout
    if not layout.words:
        return not_applicable(layout, spec.name, draw)
    if spec.deterministic:
        result = layout.derived(deterministic_result, spec, scope)
        return result if result.draw == draw else result.with_draw(draw)
    return _draw(report, spec, seed, key, draw, scope)


def _attempt(
    spec: PerturbationSpec, report: ParsedReport, pack: Pack | None, rng: np.random.Generator, scope: str, draw: int
) -> PerturbationResult | None:
    """One attempt of `spec` on `report`: its kernel on `pack` (the report alone), keyed on the
    attempt's stream value, or else its reference (`pack` None). None where it cannot apply."""
    if pack is None:
        edit = spec.fn(report, rng, scope)
        return None if edit is None else result_of(report, spec.name, edit, draw)
    packed = spec.batch(pack, np.array([rng.bit_generator.random_raw()], dtype=np.uint64), scope)
    if packed.applicable is not None and not packed.applicable[0]:
        return None
    (text,) = render_texts(pack, packed.source_index, packed.replacements)
    made = () if packed.replacements is None else packed.replacements.per_report(1)[0]
    return PerturbationResult(spec.name, text, True, packed.source_index, made, draw, report)


def _draw(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    layout = report.layout
    rng = stream(seed, key, spec.name, draw)
    pack = None if spec.batch is None else Pack((report,))
    for _ in range(1 if spec.deterministic else MAX_REDRAWS):
        result = _attempt(spec, report, pack, rng, scope, draw)
        if result is None:
            break
        if result.text != layout.text:
            return result
    return not_applicable(layout, spec.name, draw)


def result_of(report: ParsedReport, kind: str, edit: Edit, draw: int = 0) -> PerturbationResult:
    """`edit` of `report` as a result of `kind`, rendered as `apply` renders it (also for edits
    made outside the registry, such as a requested clinical edit); applicable whatever its text.
    Rendered from the report's own entries: a pack and its candidates would write the same text
    at several times the cost (a reference's edit is one report's, made once)."""
    layout = report.layout
    source_index = np.asarray(edit.source_index, dtype=np.intp)
    written = replaced_words(report, edit.replacements) if edit.replacements else {}
    pieces = {slot: new + report.whitespace[slot] for slot, new in written.items()}
    made = tuple(Replacement(slot, layout.tokens[slot], new) for slot, new in written.items())
    return PerturbationResult(kind, render_one(layout, source_index, pieces), True, source_index, made, draw, report)


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
    check_scope(scope)
    spec = get(name)
    return apply_spec(report, spec, seed, key_hash(report.text if key is None else key), draw, scope)


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
    check_scope(scope)
    specs = [get(name) for name in resolve_kinds(kinds)]
    hashed = key_hash(report.text if key is None else key)
    return [apply_spec(report, spec, seed, hashed, d, scope) for spec in specs for d in range(draws)]

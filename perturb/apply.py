"""Apply registered perturbations to one parsed report and render the results."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from perturb.batch.candidates import Substitute
from perturb.batch.kernels import PackedEdit
from perturb.batch.pack import Pack
from perturb.layout import Layout
from perturb.parsed import ParsedReport
from perturb.registry import Edit, PerturbationSpec, get, resolve_kinds
from perturb.rendering import render_texts
from perturb.result import PerturbationResult
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


def packed(pack: Pack, edit: Edit) -> PackedEdit:
    """A reference's `Edit` of the one report in `pack`, as a kernel would return it."""
    source_index = np.asarray(edit.source_index, dtype=np.intp)
    replacements = Substitute.of(pack, [edit.replacements]) if edit.replacements else None
    return PackedEdit(source_index, replacements)


def _attempt(spec: PerturbationSpec, pack: Pack, rng: np.random.Generator, scope: str) -> PackedEdit | None:
    """One attempt of `spec` on the one report in `pack`: its kernel, keyed on the attempt's
    stream value, or else its reference. None where it cannot apply."""
    if spec.batch is None:
        edit = spec.fn(pack.reports[0], rng, scope)
        return None if edit is None else packed(pack, edit)
    edit = spec.batch(pack, np.array([rng.bit_generator.random_raw()], dtype=np.uint64), scope)
    return None if edit.applicable is not None and not edit.applicable[0] else edit


def _draw(
    report: ParsedReport, spec: PerturbationSpec, seed: int, key: int, draw: int, scope: str
) -> PerturbationResult:
    layout = report.layout
    rng = stream(seed, key, spec.name, draw)
    pack = Pack((report,))
    for _ in range(1 if spec.deterministic else MAX_REDRAWS):
        edit = _attempt(spec, pack, rng, scope)
        if edit is None:
            break
        result = _rendered(pack, spec.name, edit, draw)
        if result.text != layout.text:
            return result
    return not_applicable(layout, spec.name, draw)


def _rendered(pack: Pack, kind: str, edit: PackedEdit, draw: int) -> PerturbationResult:
    (text,) = render_texts(pack, edit.source_index, edit.replacements)
    made = () if edit.replacements is None else edit.replacements.per_report(1)[0]
    return PerturbationResult(kind, text, True, edit.source_index, made, draw, pack.reports[0])


def result_of(report: ParsedReport, kind: str, edit: Edit, draw: int = 0) -> PerturbationResult:
    """`edit` of `report` as a result of `kind`, rendered as `apply` renders it (for edits made
    outside the registry, such as a requested clinical edit); applicable whatever its text."""
    pack = Pack((report,))
    return _rendered(pack, kind, packed(pack, edit), draw)


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

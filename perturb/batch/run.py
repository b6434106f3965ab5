"""`apply_batch` / `apply_requests`: perturb many reports per numpy call.

A training step needs B×K negatives and a corpus run needs every kind of every report; calling
`apply` for each pays a Generator reseed and a dozen small numpy calls per negative. Here each
kind's batch kernel runs once over a `Pack` of all its reports, keyed on every report's stream
value (computed together, `perturb.seeding.stream_words`), and all outputs are rendered in
one gather (`perturb.rendering.render_texts`); reports whose draw reproduced the original are
redrawn together, as `apply` redraws one. Each result equals the matching `apply` call; a kind
without a kernel takes `apply`'s own path, and a deterministic kind's results are kept on the
reports' layouts, where `apply` finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress, count, pairwise, repeat
from operator import eq
from typing import NamedTuple

import numpy as np

from perturb.apply import MAX_REDRAWS, apply_spec, deterministic_result, not_applicable
from perturb.batch.pack import Pack
from perturb.errors import UsageError
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get, resolve_kinds
from perturb.rendering import render_texts
from perturb.result import PerturbationResult
from perturb.scopes import check_scope
from perturb.seeding import KeyHashes, key_hash, stream_word_rows, stream_words

#: Reports per pack: bounds memory and keeps group ids within `perturb.noise.MAX_GROUPS`.
PACK_SIZE = 1024


class Request(NamedTuple):
    """One negative to make: `kind` of `report`, keyed by `key` (None: the report text), `draw`."""

    report: ParsedReport
    kind: str
    key: object = None
    draw: int = 0


def _attempt(
    spec: PerturbationSpec, pack: Pack, stream: np.ndarray, draws: list[int], scope: str
) -> list[PerturbationResult | None]:
    """`spec` on every report of `pack`, report r keyed on its stream value `stream[r]`: its
    result, or None where this attempt reproduced the original (the caller redraws those)."""
    edit = spec.batch(pack, stream, scope)
    substitute = edit.replacements
    texts = render_texts(pack, edit.source_index, substitute)
    bounds = pack.bounds
    replacements = repeat(()) if substitute is None else substitute.per_report(len(pack))
    source = repeat(edit.source_index)  # global positions: each result subtracts its report's start
    spans = pairwise(bounds)
    fields = zip(repeat(spec.name), texts, repeat(True), source, replacements, draws, pack.reports, spans, repeat(None))
    results: list[PerturbationResult | None] = list(map(PerturbationResult.make, fields))
    for r in compress(count(), map(eq, texts, pack.original_texts)):
        results[r] = None
    if edit.applicable is not None and not edit.applicable.all():
        for r in np.flatnonzero(~edit.applicable).tolist():
            results[r] = not_applicable(pack.layouts[r], spec.name, draws[r])
    return results


def _run_kind(
    spec: PerturbationSpec, pack: Pack, keys: KeyHashes, draws: list[int], seed: int, scope: str,
    stream: np.ndarray | None = None,
) -> list[PerturbationResult]:
    """`spec` on every report of `pack` (report r keyed `keys.ints[r]`, draw `draws[r]`; `stream`:
    their first stream values, if known). Where the first attempt reproduced the original, every
    later attempt is made at once — a pack holding each such report once per attempt — and each
    report takes its first attempt that differs, as `apply` would one attempt after another."""
    if stream is None:
        stream = stream_words(seed, spec.name, np.asarray(draws), keys)[0]
    results = _attempt(spec, pack, stream, draws, scope)
    again = [r for r, result in enumerate(results) if result is None]
    redraws = 0 if spec.deterministic else MAX_REDRAWS - 1
    if again and redraws:
        again_draws = [draws[r] for r in again]
        later = stream_words(seed, spec.name, np.asarray(again_draws), keys.take(again), range(1, MAX_REDRAWS))
        redo = Pack([pack.reports[r] for r in again] * redraws)  # attempt-major: attempt 1 of each, then 2, ...
        redone = _attempt(spec, redo, later.reshape(-1), again_draws * redraws, scope)
        for j, r in enumerate(again):
            results[r] = next((result for result in redone[j :: len(again)] if result is not None), None)
    for r in again:
        if results[r] is None:  # no attempt differed from the original
            results[r] = not_applicable(pack.layouts[r], spec.name, draws[r])
    return results  # type: ignore[return-value]  (every None was replaced)


def _run_deterministic(
    spec: PerturbationSpec, reports: Sequence[ParsedReport], keys: KeyHashes, draws: list[int], seed: int,
    scope: str,
) -> list[PerturbationResult]:
    """A deterministic kernel: its result is the same for every seed and draw, so each report's is
    remembered where `apply` looks for it; the reports without one are computed in one batch."""
    layouts = [report.layout for report in reports]
    remembered = [layout.known(deterministic_result, spec, scope) for layout in layouts]
    missing = [r for r, result in enumerate(remembered) if result is None]
    if missing:
        done = _run_kind(spec, Pack([reports[r] for r in missing]), keys.take(missing), [0] * len(missing), seed, scope)
        for r, result in zip(missing, done):
            layouts[r].keep(result, deterministic_result, spec, scope)
            remembered[r] = result
    return [result if result.draw == draw else result.with_draw(draw) for result, draw in zip(remembered, draws)]


def _run(
    spec: PerturbationSpec, reports: Sequence[ParsedReport], keys: KeyHashes, draws: list[int], seed: int,
    scope: str, pack: Pack | None = None, stream: np.ndarray | None = None,
) -> list[PerturbationResult]:
    """`spec` on `reports` (`pack`: them packed, if at hand; `stream`: their first stream values)."""
    if spec.batch is None:
        return [apply_spec(r, spec, seed, k, d, scope) for r, k, d in zip(reports, keys.ints, draws)]
    if spec.deterministic:
        return _run_deterministic(spec, reports, keys, draws, seed, scope)
    out: list[PerturbationResult] = []
    for start in range(0, len(reports), PACK_SIZE):
        part = slice(start, start + PACK_SIZE)
        packed = pack if pack is not None and len(reports) <= PACK_SIZE else Pack(reports[part])
        first = None if stream is None else stream[part]
        out += _run_kind(spec, packed, keys.part(part), draws[part], seed, scope, first)
    return out


def apply_requests(
    requests: Iterable[Request | tuple], *, seed: int, scope: str = "report"
) -> list[PerturbationResult]:
    """One result per request, in order; each equals `apply(report, kind, seed=seed, scope=scope,
    key=key, draw=draw)`, whatever else is in the call."""
    check_scope(scope)
    requests = [Request(*r) for r in requests]
    by_kind: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_kind.setdefault(request.kind, []).append(i)
    results: list[PerturbationResult | None] = [None] * len(requests)
    packs: dict[tuple[int, ...], Pack] = {}  # a training batch asks every kind of the same records: pack them once
    for kind, indices in by_kind.items():
        chosen = [requests[i] for i in indices]
        reports = [r.report for r in chosen]
        keys = KeyHashes.of([key_hash(r.report.text if r.key is None else r.key) for r in chosen])
        pack = None
        if len(reports) <= PACK_SIZE:
            identity = tuple(map(id, reports))
            pack = packs.get(identity)
            if pack is None:
                pack = packs[identity] = Pack(reports)
        done = _run(get(kind), reports, keys, [int(r.draw) for r in chosen], int(seed), scope, pack)
        for i, result in zip(indices, done):
            results[i] = result
    return results  # type: ignore[return-value]


def apply_batch(
    reports: Sequence[ParsedReport],
    kinds: Iterable[str] | str | None = None,
    *,
    seed: int,
    keys: Sequence[object] | None = None,
    draws: int = 1,
    scope: str = "report",
) -> list[list[PerturbationResult]]:
    """`apply_many` for many reports: for each report, every requested kind (default: all
    registered), `draws` draws each, in kind-major order — each result equal to the matching
    `apply` call. `keys[r]` keys report r's streams (default: its text)."""
    check_scope(scope)
    reports = list(reports)
    if keys is not None and len(keys) != len(reports):
        raise UsageError(f"{len(keys)} keys for {len(reports)} reports")
    specs = [get(name) for name in resolve_kinds(kinds)]
    hashed = KeyHashes.of([key_hash(r.text if keys is None else keys[i]) for i, r in enumerate(reports)])
    pack = Pack(reports) if len(reports) <= PACK_SIZE else None
    streams = [(spec, d) for spec in specs for d in range(draws)]
    random = [(spec.name, d) for spec, d in streams if spec.batch is not None and not spec.deterministic]
    first_values = dict(zip(random, stream_word_rows(int(seed), random, hashed)))  # every kind's, in one pass
    columns = [
        _run(spec, reports, hashed, [d] * len(reports), int(seed), scope, pack, first_values.get((spec.name, d)))
        for spec, d in streams
    ]
    return list(map(list, zip(*columns))) if columns else [[] for _ in reports]

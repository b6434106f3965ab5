"""`apply_batch` / `apply_requests`: perturb many reports per numpy call.

A training step needs B×K negatives and a corpus run needs every kind of every report; calling
`apply` for each pays a Generator reseed and a dozen small numpy calls per negative. Here each
kind's batch kernel runs once over a `Pack` of all its reports, keyed on every report's stream
word (computed together, `perturb.seeding.stream_words`), and all outputs are rendered in
one gather; reports whose draw reproduced the original are redrawn together, as `apply` redraws
one. Each result equals the matching `apply` call; a kind without a kernel and a deterministic
kind take `apply`'s own path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from perturb.apply import MAX_REDRAWS, _apply, _check_scope, _not_applicable, deterministic_memo_key
from perturb.packed import Pack
from perturb.parsed import ParsedReport
from perturb.registry import PerturbationSpec, get, resolve_kinds
from perturb.rendering import replacement_form
from perturb.result import PerturbationResult, Replacement
from perturb.seeding import KeyHashes, key_hash, stream_words

#: Reports per pack: bounds memory and keeps unit ids within `perturb.noise.MAX_UNITS`.
PACK_SIZE = 1024


class Request(NamedTuple):
    """One negative to make: `kind` of `report`, keyed by `key` (None: the report text), `draw`."""

    report: ParsedReport
    kind: str
    key: object = None
    draw: int = 0


def _replacement(report: ParsedReport, position: int, word: str) -> tuple[Replacement, bytes]:
    """A replacement, with its word as rendered at `position`, and the bytes the packed renderer
    writes there (the word and the position's whitespace)."""
    form = replacement_form(report, position, word)
    rendered = (form + report.whitespace[position]).encode("utf-8", "surrogatepass")
    return Replacement(position, report.tokens[position], form), rendered


def _replacements(
    pack: Pack, replacements: Sequence[Mapping[int, str] | None]
) -> tuple[list[tuple[Replacement, ...]], list[tuple[int, bytes]]]:
    """Each report's replacements (by position), and what the renderer writes at each replaced
    global position. Remembered per report: every draw picks from the same few candidates."""
    made: list[tuple[Replacement, ...]] = []
    rewrites: list[tuple[int, bytes]] = []
    for layout, start, replaced in zip(pack.layouts, pack.starts.tolist(), replacements):
        if not replaced:
            made.append(())
            continue
        known: dict[tuple[int, str], tuple[Replacement, bytes]] = layout.memo("replacements", dict)
        entries = []
        for position in sorted(replaced):
            key = (position, replaced[position])
            hit = known.get(key)
            if hit is None:
                hit = known[key] = _replacement(layout.report, *key)
            entries.append(hit)
            rewrites.append((start + position, hit[1]))
        made.append(tuple(entry for entry, _ in entries))
    return made, rewrites


def _attempt(
    spec: PerturbationSpec, pack: Pack, keys: KeyHashes, draws: list[int], seed: int, scope: str, attempt: int
) -> list[PerturbationResult | None]:
    """One attempt of `spec` on every report of `pack`: its result, or None where this attempt
    reproduced the original (the caller redraws those)."""
    edit = spec.batch(pack, stream_words(seed, spec.name, np.asarray(draws), keys, attempt), scope)
    made, rewrites = _replacements(pack, edit.replacements) if edit.replacements is not None else ([], [])
    texts = pack.render(edit.source_index, rewrites)
    local = edit.source_index - pack.token_starts
    bounds = pack.bounds
    name = spec.name
    results: list[PerturbationResult | None] = [
        PerturbationResult(name, text, True, local[a:b], (), draw, report) if text != original else None
        for text, original, a, b, draw, report in zip(
            texts, pack.original_texts, bounds, bounds[1:], draws, pack.reports
        )
    ]
    for result, reps in zip(results, made):
        if reps and result is not None:
            result.replacements = reps
    cannot = edit.applicable is not None and not edit.applicable.all()
    for r in np.flatnonzero(~edit.applicable).tolist() if cannot else []:
        results[r] = _not_applicable(pack.layouts[r], name, draws[r])
    return results


def _run_kind(
    spec: PerturbationSpec, pack: Pack, keys: KeyHashes, draws: list[int], seed: int, scope: str
) -> list[PerturbationResult]:
    """`spec` on every report of `pack` (report r keyed `keys.ints[r]`, draw `draws[r]`), redrawing
    — in batch, as `apply` does one by one — where an attempt reproduced the original."""
    results = _attempt(spec, pack, keys, draws, seed, scope, 0)
    again = [r for r, result in enumerate(results) if result is None]
    for attempt in range(1, 1 if spec.deterministic else MAX_REDRAWS):
        if not again:
            break
        retry = _attempt(
            spec, Pack([pack.reports[r] for r in again]), keys.take(again), [draws[r] for r in again],
            seed, scope, attempt,
        )
        for r, result in zip(again, retry):
            results[r] = result
        again = [r for r in again if results[r] is None]
    for r in again:  # no attempt differed from the original
        results[r] = _not_applicable(pack.layouts[r], spec.name, draws[r])
    return results  # type: ignore[return-value]  (every None was replaced)


def _run_deterministic(
    spec: PerturbationSpec, reports: Sequence[ParsedReport], keys: KeyHashes, draws: list[int], seed: int,
    scope: str,
) -> list[PerturbationResult]:
    """A deterministic kernel: its result is the same for every seed and draw, so each report's is
    remembered where `apply` looks for it; the reports without one are computed in one batch."""
    memo_key = deterministic_memo_key(spec, scope)
    layouts = [report.layout for report in reports]
    missing = [r for r, layout in enumerate(layouts) if not layout.remembers(memo_key)]
    if missing:
        done = _run_kind(spec, Pack([reports[r] for r in missing]), keys.take(missing), [0] * len(missing), seed, scope)
        for r, result in zip(missing, done):
            layouts[r].remember(memo_key, result)
    remembered = [layout.recall(memo_key) for layout in layouts]
    return [result if result.draw == draw else result.with_draw(draw) for result, draw in zip(remembered, draws)]


def _run(
    spec: PerturbationSpec, reports: Sequence[ParsedReport], keys: KeyHashes, draws: list[int], seed: int,
    scope: str, pack: Pack | None = None,
) -> list[PerturbationResult]:
    if spec.batch is None:
        return [_apply(r, spec, seed, k, d, scope) for r, k, d in zip(reports, keys.ints, draws)]
    if spec.deterministic:
        return _run_deterministic(spec, reports, keys, draws, seed, scope)
    out: list[PerturbationResult] = []
    for start in range(0, len(reports), PACK_SIZE):
        part = slice(start, start + PACK_SIZE)
        packed = pack if pack is not None and len(reports) <= PACK_SIZE else Pack(reports[part])
        out += _run_kind(spec, packed, keys.part(part), draws[part], seed, scope)
    return out


def apply_requests(
    requests: Iterable[Request | tuple], *, seed: int, scope: str = "report"
) -> list[PerturbationResult]:
    """One result per request, in order; each equals `apply(report, kind, seed=seed, scope=scope,
    key=key, draw=draw)`, whatever else is in the call."""
    _check_scope(scope)
    requests = [Request(*r) for r in requests]
    by_kind: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_kind.setdefault(request.kind, []).append(i)
    results: list[PerturbationResult | None] = [None] * len(requests)
    for kind, indices in by_kind.items():
        chosen = [requests[i] for i in indices]
        keys = KeyHashes.of([key_hash(r.report.text if r.key is None else r.key) for r in chosen])
        done = _run(get(kind), [r.report for r in chosen], keys, [int(r.draw) for r in chosen], int(seed), scope)
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
    _check_scope(scope)
    reports = list(reports)
    if keys is not None and len(keys) != len(reports):
        raise ValueError(f"{len(keys)} keys for {len(reports)} reports")
    specs = [get(name) for name in resolve_kinds(kinds)]
    hashed = KeyHashes.of([key_hash(r.text if keys is None else keys[i]) for i, r in enumerate(reports)])
    pack = Pack(reports) if len(reports) <= PACK_SIZE else None
    columns = [
        _run(spec, reports, hashed, [d] * len(reports), int(seed), scope, pack)
        for spec in specs
        for d in range(draws)
    ]
    return [list(row) for row in zip(*columns)] if columns else [[] for _ in reports]

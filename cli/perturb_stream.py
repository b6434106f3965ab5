"""The corpus pipeline: records → parses (cache first, spaCy for the misses) → negatives.

Records flow in chunks of a few parser batches, so memory is bounded by the chunk, not the corpus,
and output order is input order. Negatives come from `perturb.apply_batch(..., keys=record keys)`,
a chunk at a time: they depend on (seed, id, kind, draw) only, never on chunking, batch size,
process count or shard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from cli.records import Record, Reject
from cli.sharding import Shard
from cli.spacy_model import ModelIdentity, load_parser
from perturb import ParsedReport, PerturbationResult, apply_batch

if TYPE_CHECKING:
    from perturb.cache import ParseCache

#: Parser batches per chunk: enough to keep `nlp.pipe` (and its worker processes) busy.
BATCHES_PER_CHUNK = 8


@dataclass(frozen=True)
class PerturbOptions:
    kinds: tuple[str, ...]
    per_kind: int = 1
    seed: int = 0
    scope: str = "report"


@dataclass(frozen=True)
class Perturbed:
    record: Record
    parsed: ParsedReport
    results: list[PerturbationResult]


class ParseSource:
    """Parses records: from the parse cache when key, text and model match, else with spaCy.
    The parser loads on the first miss, so a fully cached run never imports spaCy."""

    def __init__(
        self,
        model: str | None,
        identity: ModelIdentity,
        cache: ParseCache | None = None,
        *,
        n_process: int = 1,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.identity = identity
        self.cache = cache
        self.n_process = n_process
        self.batch_size = batch_size
        self.from_cache = 0
        self.parsed = 0

    def chunk_size(self) -> int:
        return self.batch_size * max(1, self.n_process) * BATCHES_PER_CHUNK

    def _cached(self, record: Record) -> ParsedReport | None:
        if self.cache is None:
            return None
        hit = self.cache.get(record.key, record.text)
        if hit is None or (hit.model, hit.model_version) != self.identity:
            return None
        return hit

    def parse(self, records: list[Record]) -> list[ParsedReport]:
        found = [self._cached(r) for r in records]
        misses = [i for i, p in enumerate(found) if p is None]
        if misses:
            parser = load_parser(self.model)
            texts = (records[i].text for i in misses)
            parsed_misses = parser.parse_many(texts, n_process=self.n_process, batch_size=self.batch_size)
            for i, parsed in zip(misses, parsed_misses, strict=True):
                found[i] = parsed
        self.parsed += len(misses)
        self.from_cache += len(records) - len(misses)
        return found  # type: ignore[return-value]  (every miss was filled)


def _chunked(items: Iterable[Record | Reject], size: int) -> Iterator[list[Record | Reject]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def shard_key(item: Record | Reject) -> str:
    """Records shard by key; rejects (whose key may be unknown) by their place in the input."""
    return item.key if isinstance(item, Record) else f"{item.source}:{item.line}"


def perturb_records(
    items: Iterable[Record | Reject],
    parses: ParseSource,
    options: PerturbOptions,
    shard: Shard | None = None,
) -> Iterator[Perturbed | Reject]:
    """This shard's records (default: all), perturbed, and its rejects, in input order."""
    mine = items if shard is None else (item for item in items if shard.owns(shard_key(item)))
    for chunk in _chunked(mine, parses.chunk_size()):
        records = [item for item in chunk if isinstance(item, Record)]
        reports = parses.parse(records)
        negatives = apply_batch(
            reports,
            options.kinds,
            seed=options.seed,
            keys=[r.key for r in records],
            draws=options.per_kind,
            scope=options.scope,
        )
        done = iter(zip(records, reports, negatives, strict=True))
        for item in chunk:
            if isinstance(item, Reject):
                yield item
                continue
            record, report, results = next(done)
            yield Perturbed(record, report, results)

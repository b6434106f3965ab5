"""The corpus pipeline: records → parses (cache first, spaCy for the misses) → negatives.

Records flow in chunks of a few parser batches, so memory is bounded by the chunk, not the corpus,
and output order is input order. Negatives come from `perturb.apply_batch(..., keys=record keys)`,
a chunk at a time: they depend on (seed, id, kind, draw) only, never on chunking, batch size,
process count or shard. A record that spaCy or a perturbation (a plugin's, say) fails on becomes
a reject naming the error; the chunk is then redone one record at a time, so the others go on.
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

    def parse(self, records: list[Record]) -> list[ParsedReport | str]:
        """Each record's parse, or why it could not be parsed."""
        found: list[ParsedReport | str | None] = [self._cached(r) for r in records]
        misses = [i for i, p in enumerate(found) if p is None]
        if misses:
            parser = load_parser(self.model)
            texts = [records[i].text for i in misses]
            try:
                parsed_misses: list[ParsedReport | str] = list(
                    parser.parse_many(texts, n_process=self.n_process, batch_size=self.batch_size))
            except Exception:  # find the record(s) spaCy fails on; parse the others
                parsed_misses = [_attempt(parser.parse, text) for text in texts]
            for i, parsed in zip(misses, parsed_misses, strict=True):
                found[i] = parsed
        self.parsed += len(misses)
        self.from_cache += len(records) - len(misses)
        return found  # type: ignore[return-value]  (every miss was filled)


def _attempt(function, *args):
    """`function(*args)`, or the one-line reason it raised."""
    try:
        return function(*args)
    except Exception as err:
        return failure(err)


def failure(err: BaseException) -> str:
    """An exception as the one-line reason of a reject."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


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
        parsed = parses.parse(records)
        good = [i for i, p in enumerate(parsed) if not isinstance(p, str)]
        negatives = _negatives([parsed[i] for i in good], [records[i] for i in good], options)
        outcomes: list = list(parsed)  # per record: (parse, negatives), or why it failed
        for i, result in zip(good, negatives, strict=True):
            outcomes[i] = result if isinstance(result, str) else (parsed[i], result)
        done = iter(zip(records, outcomes, strict=True))
        for item in chunk:
            if isinstance(item, Reject):
                yield item
                continue
            record, outcome = next(done)
            if isinstance(outcome, str):
                yield Reject(record.source, record.line, outcome, record.key)
            else:
                yield Perturbed(record, *outcome)


def _negatives(
    reports: list[ParsedReport], records: list[Record], options: PerturbOptions
) -> list[list[PerturbationResult] | str]:
    """The negatives of every report in one `apply_batch` call; should a kind raise, each report on
    its own, so that only the reports it fails on are lost (with the reason)."""

    def batch(reports: list[ParsedReport], records: list[Record]) -> list[list[PerturbationResult]]:
        return apply_batch(reports, options.kinds, seed=options.seed, keys=[r.key for r in records],
                           draws=options.per_kind, scope=options.scope)

    try:
        return batch(reports, records)  # type: ignore[return-value]
    except Exception:
        outcomes = [_attempt(batch, [report], [record]) for report, record in zip(reports, records)]
        return [o if isinstance(o, str) else o[0] for o in outcomes]

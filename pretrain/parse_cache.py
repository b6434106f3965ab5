"""The parse cache a pretraining run reads: every training report parsed once with spaCy, before
training, so that DataLoader workers only perturb (and never load spaCy)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from perturb import ParsedReport
from perturb.io import ParseCache, ParseCacheError, ParseCacheWriter, model_identity, parse_with_cache


class ParseCacheMismatch(ValueError):
    """A given parse cache that lacks some of the run's reports."""


def missing_records(cache: ParseCache, records: Sequence[tuple[str, str]]) -> list[str]:
    """Ids whose (id, text) the cache cannot serve."""
    return [key for key, text in records if cache.get(key, text) is None]


def build_parse_cache(
    records: Sequence[tuple[str, str]],
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    n_process: int = 1,
    on_parsed: Callable[[int], None] | None = None,
) -> Path:
    """Parse each (id, text) with `perturb.Parser` and write the cache atomically, keeping the
    rows of an existing cache at `path` that the same model made of the same text (only the
    misses are parsed). `on_parsed(n)` reports progress, kept rows included."""
    from perturb import Parser

    unique = list(dict.fromkeys(records))
    try:
        cache = ParseCache.load(path) if Path(path).is_file() else None
    except ParseCacheError:  # an unreadable old cache is only written over
        cache = None

    def parse_misses(missing: list[tuple[str, str]]) -> Iterator[ParsedReport]:
        texts = (text for _, text in missing)
        for parsed in Parser(model).parse_many(texts, n_process=n_process, batch_size=64):
            if on_parsed is not None:
                on_parsed(1)
            yield parsed

    parses, from_cache = parse_with_cache(unique, cache, parse_misses, model=model_identity(model))
    if on_parsed is not None and from_cache:
        on_parsed(from_cache)
    with ParseCacheWriter(path) as writer:
        for (key, text), parsed in zip(unique, parses, strict=True):
            writer.add(key, text, parsed)
    return Path(path)


def check_parse_cache(path: str | os.PathLike[str], records: Sequence[tuple[str, str]]) -> None:
    """Raise ParseCacheMismatch (one line) unless the cache at `path` serves every record."""
    missing = missing_records(ParseCache.load(path), records)
    if missing:
        raise ParseCacheMismatch(
            f"{len(missing)} of {len(records)} reports are missing from the parse cache {path} or changed "
            f"since it was written (first: {missing[0]}); rebuild it with `radperturb pretrain-cache`"
        )

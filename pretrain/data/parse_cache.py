"""The parse cache a pretraining run reads: every training report parsed once with spaCy, before
training, so that DataLoader workers only perturb (and never load spaCy)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from perturb.cache import ParseCache, ParseCacheWriter
from perturb.errors import DataError


class ParseCacheMismatch(DataError):
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
    """Parse each (id, text) with `perturb.Parser` and write the cache atomically.
    `on_parsed(n)` reports progress."""
    from perturb import Parser

    parser = Parser(model)
    unique = list(dict.fromkeys(records))
    with ParseCacheWriter(path) as writer:
        texts = (text for _, text in unique)
        for (key, text), parsed in zip(unique, parser.parse_many(texts, n_process=n_process, batch_size=64)):
            writer.add(key, text, parsed)
            if on_parsed is not None:
                on_parsed(1)
    return Path(path)


def check_parse_cache(path: str | os.PathLike[str], records: Sequence[tuple[str, str]]) -> None:
    """Raise ParseCacheMismatch (one line) unless the cache at `path` serves every record."""
    missing = missing_records(ParseCache.load(path), records)
    if missing:
        raise ParseCacheMismatch(
            f"{len(missing)} of {len(records)} reports are missing from the parse cache {path} or changed "
            f"since it was written (first: {missing[0]}); rebuild it with `radperturb pretrain-cache`"
        )

"""The parse cache: ParsedReports stored once (JSONL, optionally gzipped) so that corpus runs and
training workers never parse again — and never need spaCy.

One line per record: `{"key", "text_sha1", "parsed": ParsedReport.to_dict()}`. A lookup gives None
when the key is missing, when the record's text changed since it was parsed, or when the cached
parse does not spell out that text token by token (a cache edited or mixed up by hand): a cache
can cost a parse, never give one report another's words.

`parse_with_cache` is the one way to get parses: the cache's where it serves a record, the
caller's parser for the rest. `build_parse_cache` parses a set of records once with spaCy before a
pretraining run (so that DataLoader workers only perturb), `check_parse_cache` refuses a cache that
lacks some of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from perturb.errors import DataError
from perturb.io.atomic import atomic_open, open_text
from perturb.io.spacy_model import model_identity
from perturb.parsed import ParsedReport
from perturb.parser import Parser

T = TypeVar("T")


def text_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class ParseCacheError(DataError):
    """A cache file that cannot be read; the message names file and line."""

    def __init__(self, where: str) -> None:
        super().__init__(f"unreadable parse cache: {where}")


class ParseCache:
    """In-memory view of a parse cache, keyed by record key."""

    def __init__(self, entries: dict[str, tuple[str, ParsedReport]] | None = None) -> None:
        self._entries = entries or {}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ParseCache":
        entries: dict[str, tuple[str, ParsedReport]] = {}
        lineno = 0
        try:
            with open_text(path) as handle:
                for lineno, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                        entries[str(row["key"])] = (row["text_sha1"], ParsedReport.from_dict(row["parsed"]))
                    except (ValueError, KeyError, TypeError) as err:
                        raise ParseCacheError(f"{path}:{lineno}: not a parse-cache row ({err})") from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise ParseCacheError(f"{path}:{lineno + 1}: truncated or corrupt gzip file ({err})") from None
        except UnicodeDecodeError:
            raise ParseCacheError(f"{path}:{lineno + 1}: not UTF-8, not a parse cache") from None
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return str(key) in self._entries

    def keys(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> Iterator[tuple[str, str, ParsedReport]]:
        """(key, text digest, parse) for every entry, e.g. to carry entries over into a rewrite."""
        for key, (digest, parsed) in self._entries.items():
            yield key, digest, parsed

    @property
    def models(self) -> set[tuple[str, str]]:
        """The (model, version) pairs the cached parses came from."""
        return {(p.model, p.model_version) for _, p in self._entries.values()}

    def get(self, key: object, text: str | None = None) -> ParsedReport | None:
        """The cached parse of `key`; None if absent or if `text` no longer matches it."""
        hit = self._entries.get(str(key))
        if hit is None:
            return None
        digest, parsed = hit
        if text is not None and (text_digest(text) != digest or not spells(parsed, text)):
            return None
        return parsed


def spells(parsed: ParsedReport, text: str) -> bool:
    """Whether the parse's tokens and their whitespace are `text` (spaCy never drops a character)."""
    return "".join(token + space for token, space in zip(parsed.tokens, parsed.whitespace)) == text


class ParseCacheWriter:
    """Streams rows into a parse cache; the file appears atomically when the block ends cleanly."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cm = atomic_open(self.path, "w")
        self.count = 0
        self._keys: set[str] = set()

    def __enter__(self) -> "ParseCacheWriter":
        self._handle = self._cm.__enter__()
        return self

    def add(self, key: object, text: str, parsed: ParsedReport) -> None:
        self.add_digest(key, text_digest(text), parsed)

    def add_digest(self, key: object, digest: str, parsed: ParsedReport) -> None:
        """Add an entry whose text is known only by its digest (an entry of an older cache)."""
        row = {"key": str(key), "text_sha1": digest, "parsed": parsed.to_dict()}
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._keys.add(row["key"])
        self.count += 1

    def keep_the_rest(self, cache: ParseCache) -> None:
        """Add every entry of `cache` whose key this writer has not written: a rewrite keeps what
        the run did not touch (other shards, other corpora)."""
        for key, digest, parsed in cache.items():
            if key not in self._keys:
                self.add_digest(key, digest, parsed)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._cm.__exit__(exc_type, exc, tb)


def write_parse_cache(
    path: str | os.PathLike[str], rows: Iterable[tuple[object, str, ParsedReport]]
) -> int:
    """Write (key, text, parsed) rows atomically; returns the number written."""
    with ParseCacheWriter(path) as writer:
        for key, text, parsed in rows:
            writer.add(key, text, parsed)
    return writer.count


def parse_with_cache(
    records: Sequence[tuple[str, str]],
    cache: ParseCache | None,
    parse_misses: Callable[[list[tuple[str, str]]], Iterable[T]],
    *,
    model: tuple[str, str] | None = None,
) -> tuple[list[ParsedReport | T], int]:
    """Each (key, text) record's parse, in order: the cache's where it holds this text (and, given
    `model` — a (name, version) pair such as `perturb.io.spacy_model.ModelIdentity` — was made
    by that model), else what `parse_misses(the missing records)` yields for it, called once for
    all of them and not at all when the cache serves every record. Returns the parses and how
    many came from the cache."""
    found: list[ParsedReport | T | None] = [None] * len(records)
    if cache is not None:
        for i, (key, text) in enumerate(records):
            hit = cache.get(key, text)
            if hit is not None and (model is None or (hit.model, hit.model_version) == tuple(model)):
                found[i] = hit
    misses = [i for i, parsed in enumerate(found) if parsed is None]
    if misses:
        for i, parsed in zip(misses, parse_misses([records[i] for i in misses]), strict=True):
            found[i] = parsed
    return found, len(records) - len(misses)  # type: ignore[return-value]  (every miss was filled)


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
    """Parse each (id, text) with `perturb.Parser` and write the cache atomically, keeping the
    rows of an existing cache at `path` that the same model made of the same text (only the
    misses are parsed). `on_parsed(n)` reports progress, kept rows included."""
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


def ensure_parse_cache(
    records: Sequence[tuple[str, str]],
    path: str | os.PathLike[str],
    *,
    on_parsed: Callable[[int], None] | None = None,
) -> Path:
    """The cache at `path`, built (or completed, keeping the rows it serves) unless it already
    serves every (id, text) record; a run folder's own cache, reused on resume."""
    if not Path(path).is_file() or missing_records(ParseCache.load(path), records):
        build_parse_cache(records, path, on_parsed=on_parsed)
    return Path(path)


def check_parse_cache(path: str | os.PathLike[str], records: Sequence[tuple[str, str]]) -> None:
    """Raise ParseCacheMismatch (one line) unless the cache at `path` serves every record."""
    missing = missing_records(ParseCache.load(path), records)
    if missing:
        raise ParseCacheMismatch(
            f"{len(missing)} of {len(records)} reports are missing from the parse cache {path} or changed "
            f"since it was written (first: {missing[0]}); rebuild it with `radperturb pretrain-cache`"
        )

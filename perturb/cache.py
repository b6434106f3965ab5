"""The parse cache: ParsedReports stored once (JSONL, optionally gzipped) so that corpus runs and
training workers never parse again — and never need spaCy.

One line per record: `{"key", "text_sha1", "parsed": ParsedReport.to_dict()}`. A lookup gives None
when the key is missing, when the record's text changed since it was parsed, or when the cached
parse does not spell out that text token by token (a cache edited or mixed up by hand): a cache
can cost a parse, never give one report another's words.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from perturb.atomic import atomic_open, open_text
from perturb.parsed import ParsedReport


def text_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class ParseCacheError(ValueError):
    """A cache file that cannot be read; the message names file and line."""


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

    def __enter__(self) -> "ParseCacheWriter":
        self._handle = self._cm.__enter__()
        return self

    def add(self, key: object, text: str, parsed: ParsedReport) -> None:
        self.add_digest(key, text_digest(text), parsed)

    def add_digest(self, key: object, digest: str, parsed: ParsedReport) -> None:
        """Add an entry whose text is known only by its digest (an entry of an older cache)."""
        row = {"key": str(key), "text_sha1": digest, "parsed": parsed.to_dict()}
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1

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

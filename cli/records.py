"""Input records: JSONL, CSV/TSV or plain text, from files or stdin, as `Record`s or `Reject`s.

Readers never raise on a bad row: they yield a `Reject` with the file and line so the caller can
count it, write it to a rejects file, or stop (`--on-error fail`). Only problems that concern the
whole file (a CSV header without the text columns, a corrupt gzip stream) raise `DataError`.
Files are read as bytes and decoded line by line, so one undecodable line costs one record.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cli.errors import DataError, UsageError

STDIN = "-"
STDIN_NAME = "<stdin>"
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "text"}
#: Fields read by default when `--field` is not given: `text`, else these joined.
DEFAULT_TEXT_FIELD = "text"
DEFAULT_PART_FIELDS = ("findings", "impression")
PART_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Record:
    """One report to perturb: `key` is its id (or line number) and seeds its negatives."""

    source: str
    line: int
    key: str
    text: str


@dataclass(frozen=True)
class Reject:
    """A row that could not become a record, and why."""

    source: str
    line: int
    reason: str
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "id": self.key, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Schema:
    """Which fields of a row give the record key and the report text.

    `fields` empty means the default: `text` when the row has it, else `findings` and `impression`
    joined. Parts are joined by a blank line; empty parts are left out, so either of findings and
    impression may be empty, but not both.
    """

    id_field: str = "id"
    fields: tuple[str, ...] = ()

    def text_fields(self, row: Mapping[str, Any]) -> tuple[str, ...] | None:
        if self.fields:
            return self.fields
        if DEFAULT_TEXT_FIELD in row:
            return (DEFAULT_TEXT_FIELD,)
        if any(name in row for name in DEFAULT_PART_FIELDS):
            return DEFAULT_PART_FIELDS
        return None

    def record(self, row: Mapping[str, Any], source: str, line: int, line_key: str) -> Record | Reject:
        """The record in `row`, keyed by its id field or else by `line_key`."""
        key = line_key
        if self.id_field in row:
            value = row[self.id_field]
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return Reject(source, line, f"id field {self.id_field!r} is not a string or integer")
            key = str(value)
            if not key.strip():
                return Reject(source, line, f"empty id field {self.id_field!r}")
        names = self.text_fields(row)
        if names is None:
            return Reject(source, line, _no_text_fields_reason(), key)
        parts: list[str] = []
        for name in names:
            if name not in row and self.fields:
                return Reject(source, line, f"missing field {name!r}", key)
            value = row.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                return Reject(source, line, f"field {name!r} is not a string", key)
            if value.strip():
                parts.append(value)
        if not parts:
            return Reject(source, line, "empty text", key)
        return Record(source, line, key, PART_SEPARATOR.join(parts))

    def check_columns(self, header: list[str], source: str) -> None:
        """A CSV header must name the text columns: otherwise every row would be rejected."""
        row = dict.fromkeys(header, "")
        names = self.text_fields(row)
        missing = [n for n in names or () if n not in row] if self.fields else []
        if names is None or missing:
            what = f"no column {missing[0]!r}" if missing else _no_text_fields_reason()
            raise DataError(f"{source}:1: {what} (columns: {', '.join(header) or 'none'})")


def _no_text_fields_reason() -> str:
    wanted = ", ".join(repr(n) for n in (DEFAULT_TEXT_FIELD, *DEFAULT_PART_FIELDS))
    return f"missing field: none of {wanted} (choose the text with --field)"


@dataclass
class ByteCount:
    """Bytes read so far across all inputs, for the progress bar."""

    value: int = 0


@dataclass
class _Lines:
    """Numbered raw lines of one binary stream; counts bytes as it goes."""

    handle: IO[bytes]
    source: str
    counter: ByteCount
    line: int = 0
    pushed: list[bytes] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        try:
            for raw in self._raw():
                self.line += 1
                yield self.line, raw
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise DataError(f"{self.source}:{self.line + 1}: corrupt gzip stream ({err})") from None

    def _raw(self) -> Iterator[bytes]:
        yield from self.pushed  # lines the format sniffer looked at (already counted)
        self.pushed = []
        for raw in self.handle:
            self.counter.value += len(raw)
            yield raw


def input_format(path: str, explicit: str | None) -> str | None:
    """The format named by `--format` or by the file's extension (`.gz` looks through);
    None for stdin, whose format is sniffed."""
    if explicit:
        return explicit
    if path == STDIN:
        return None
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        known = ", ".join(EXTENSIONS)
        raise UsageError(f"cannot tell the format of {path!r} from its extension ({known}); pass --format")
    return fmt


def check_inputs(paths: Iterable[str], explicit_format: str | None) -> None:
    """Fail early, before the model loads, on inputs that cannot be read at all."""
    paths = list(paths)
    if paths.count(STDIN) > 1:
        raise UsageError("stdin ('-') can be read only once")
    for path in paths:
        if path != STDIN:
            p = Path(path)
            if not p.exists():
                raise UsageError(f"no such file: {path}")
            if p.is_dir():
                raise UsageError(f"{path} is a directory, not a file of reports")
        input_format(path, explicit_format)


def read_records(
    paths: list[str],
    schema: Schema,
    *,
    explicit_format: str | None = None,
    stdin: IO[bytes] | None = None,
    counter: ByteCount | None = None,
) -> Iterator[Record | Reject]:
    """Every row of every input, in order. A row without an id is keyed by its line number
    (`path:line` when there are several inputs, so that keys stay distinct)."""
    counter = counter or ByteCount()
    for path in paths:
        source = STDIN_NAME if path == STDIN else path
        prefix = f"{source}:" if len(paths) > 1 else ""
        with _open_binary(path, stdin) as handle:
            lines = _Lines(handle, source, counter)
            fmt = input_format(path, explicit_format) or _sniff(lines)
            if fmt == "jsonl":
                yield from _jsonl(lines, schema, prefix)
            elif fmt == "text":
                yield from _text(lines, prefix)
            else:
                yield from _csv(lines, schema, prefix, delimiter="," if fmt == "csv" else "\t")


def _open_binary(path: str, stdin: IO[bytes] | None) -> AbstractContextManager[IO[bytes]]:
    """The input as bytes; stdin is borrowed, not closed."""
    if path == STDIN:
        if stdin is None:
            raise UsageError("no stdin to read")
        return nullcontext(stdin)
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _sniff(lines: _Lines) -> str:
    """stdin without --format: JSONL when the first non-blank line is a JSON object, else text."""
    for raw in lines.handle:
        lines.counter.value += len(raw)
        lines.pushed.append(raw)
        stripped = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped:
            return "jsonl" if stripped.startswith(b"{") else "text"
    return "text"


def _decode(raw: bytes, line: int) -> str:
    """Strict UTF-8 without the line ending; a BOM on the first line is dropped."""
    text = raw.decode("utf-8")
    if line == 1:
        text = text.removeprefix("\ufeff")
    return text.rstrip("\r\n")


def _undecodable(err: UnicodeDecodeError) -> str:
    return f"undecodable bytes: not UTF-8 (byte 0x{err.object[err.start]:02x} at column {err.start + 1})"


def _jsonl(lines: _Lines, schema: Schema, prefix: str) -> Iterator[Record | Reject]:
    for line, raw in lines:
        try:
            text = _decode(raw, line)
        except UnicodeDecodeError as err:
            yield Reject(lines.source, line, _undecodable(err))
            continue
        if not text.strip():
            continue  # a blank line separates nothing and is not a record
        try:
            row = json.loads(text)
        except json.JSONDecodeError as err:
            yield Reject(lines.source, line, f"malformed JSON: {err.msg} (column {err.colno})")
            continue
        if not isinstance(row, dict):
            yield Reject(lines.source, line, f"not a JSON object but a {type(row).__name__}")
            continue
        yield schema.record(row, lines.source, line, f"{prefix}{line}")


def _text(lines: _Lines, prefix: str) -> Iterator[Record | Reject]:
    for line, raw in lines:
        key = f"{prefix}{line}"
        try:
            text = _decode(raw, line)
        except UnicodeDecodeError as err:
            yield Reject(lines.source, line, _undecodable(err), key)
            continue
        if text.strip():
            yield Record(lines.source, line, key, text)
        else:
            yield Reject(lines.source, line, "empty text", key)


def _csv(lines: _Lines, schema: Schema, prefix: str, delimiter: str) -> Iterator[Record | Reject]:
    """CSV/TSV via the `csv` module; a row may span lines (quoted newlines) and is reported at
    its first line. Undecodable lines are decoded with surrogates so the reader stays in step,
    and any row touching one is rejected."""
    bad_lines: set[int] = set()

    def decoded() -> Iterator[str]:
        for line, raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.add(line)
                text = raw.decode("utf-8", "surrogateescape")
            yield text.removeprefix("\ufeff") if line == 1 else text

    reader = csv.reader(decoded(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise DataError(f"{lines.source}:1: unreadable CSV header ({err})") from None
    if bad_lines:
        raise DataError(f"{lines.source}:1: undecodable bytes in the header: not UTF-8")
    schema.check_columns(header, lines.source)
    while True:
        start = lines.line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield Reject(lines.source, start, f"bad CSV row: {err}")
            continue
        if not row:
            continue  # a blank line is not a row (as csv.DictReader has it)
        touched = {n for n in bad_lines if start <= n <= lines.line}
        bad_lines.clear()
        if touched:
            yield Reject(lines.source, min(touched), "undecodable bytes: not UTF-8")
        elif len(row) != len(header):
            yield Reject(lines.source, start, f"expected {len(header)} columns, found {len(row)}")
        else:
            yield schema.record(dict(zip(header, row, strict=True)), lines.source, start, f"{prefix}{start}")

"""Input records: JSONL, CSV/TSV or plain text, from files or stdin, as `Record`s or `Reject`s.

Readers never raise on a bad row: they yield a `Reject` with the file and line so the caller can
count it, write it to a rejects file, or stop (`--on-error fail`). Only problems that concern the
whole file (a CSV header without the text columns, a corrupt gzip stream) raise `DataError`.
Files are read as bytes and decoded line by line, so one undecodable line costs one record, and a
CSV quote that never closes costs its own line, not the rest of the file.

Keys are strings and unique within a run: a row's id (`1` and `"1"` are the same key), or its line
number when it has none; a later row with a key already seen is rejected, naming the first.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cli.errors import DataError, UsageError
from perturb.parser import MAX_TEXT_LENGTH, text_problem, unicode_problem

STDIN = "-"
STDIN_NAME = "<stdin>"
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "text"}
#: Fields read by default when `--field` is not given: `text`, else these joined.
DEFAULT_TEXT_FIELD = "text"
DEFAULT_PART_FIELDS = ("findings", "impression")
PART_SEPARATOR = "\n\n"
# A CSV field may hold a whole report: as long as the parser takes, not csv's default 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), MAX_TEXT_LENGTH + 1))


@dataclass(frozen=True)
class Record:
    """One report to perturb: `key` is its id (or line number) and seeds its negatives."""

    source: str
    line: int
    key: str
    text: str
    #: True when the row had no id and `key` is its line number.
    keyed_by_line: bool = field(default=False, compare=False)


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
            if problem := unicode_problem(key):
                return Reject(source, line, f"id field {self.id_field!r} is {problem}")
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
        text = PART_SEPARATOR.join(parts)
        if problem := text_problem(text):
            return Reject(source, line, f"text is {problem}", key)
        return Record(source, line, key, text, keyed_by_line=self.id_field not in row)

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
    (`path:line` when there are several inputs, so that keys stay distinct); a key seen before is
    a reject."""
    seen: dict[str, str] = {}  # key → where it was first, for the duplicate's reason
    for item in _rows(paths, schema, explicit_format, stdin, counter or ByteCount()):
        if isinstance(item, Record):
            first = seen.get(item.key)
            if first is not None:
                yield Reject(item.source, item.line, f"duplicate id {item.key!r}: {first} has it", item.key)
                continue
            how = " (its line number, as it has no id)" if item.keyed_by_line else ""
            seen[item.key] = f"{item.source}:{item.line}{how}"
        yield item


def _rows(
    paths: list[str], schema: Schema, explicit_format: str | None, stdin: IO[bytes] | None, counter: ByteCount
) -> Iterator[Record | Reject]:
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
        if not text.strip():
            yield Reject(lines.source, line, "empty text", key)
        elif problem := text_problem(text):
            yield Reject(lines.source, line, f"text is {problem}", key)
        else:
            yield Record(lines.source, line, key, text, keyed_by_line=True)


class _CsvLines:
    """Decoded lines for `csv.reader`: lines put back into `replay` come first, then the file's.
    Records which lines the current row took (`consumed`) and which were not UTF-8."""

    def __init__(self, numbered: Iterator[tuple[int, bytes]]) -> None:
        self.numbered = numbered
        self.replay: deque[tuple[int, str]] = deque()
        self.consumed: list[tuple[int, str]] = []
        self.bad_lines: set[int] = set()

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        if self.replay:
            item = self.replay.popleft()
        else:
            line, raw = next(self.numbered)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad_lines.add(line)
                text = raw.decode("utf-8", "surrogateescape")
            item = (line, text.removeprefix("\ufeff") if line == 1 else text)
        self.consumed.append(item)
        return item[1]


def _csv(lines: _Lines, schema: Schema, prefix: str, delimiter: str) -> Iterator[Record | Reject]:
    """CSV/TSV via the `csv` module (strict quoting); a row may span lines (quoted newlines) and
    is reported at its first line. Undecodable lines are decoded with surrogates so the reader
    stays in step, and any row touching one is rejected. A row that spans lines and cannot be
    read (a quote that never closes swallows the lines after it up to the end of the file) is
    rejected at its first line, and the lines after it are read again."""
    source = _CsvLines(iter(lines))
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise DataError(f"{lines.source}:1: unreadable CSV header ({err})") from None
    if source.bad_lines:
        raise DataError(f"{lines.source}:1: undecodable bytes in the header: not UTF-8")
    schema.check_columns(header, lines.source)
    bad_lines, consumed = source.bad_lines, source.consumed
    while True:
        consumed.clear()
        problem = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            row, problem = None, f"bad CSV row: {err}"
        start, end = consumed[0][0], consumed[-1][0]
        if row == []:
            continue  # a blank line is not a row (as csv.DictReader has it)
        touched = {n for n in bad_lines if start <= n <= end}
        bad_lines.difference_update(touched)
        if touched:
            yield Reject(lines.source, min(touched), "undecodable bytes: not UTF-8")
            continue
        if problem is not None:
            if end > start:  # a quote that never closed swallowed the lines after this one
                source.replay.extendleft(reversed(consumed[1:]))
                problem += f" (a quote on line {start} does not close; lines {start + 1}-{end} are read again)"
            yield Reject(lines.source, start, problem)
        elif len(row) != len(header):
            yield Reject(lines.source, start, f"expected {len(header)} columns, found {len(row)}")
        else:
            yield schema.record(dict(zip(header, row, strict=True)), lines.source, start, f"{prefix}{start}")

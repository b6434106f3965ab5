"""Writers of a perturbed corpus (JSONL or CSV) and of its rejects.

Files are written atomically (`perturb.atomic.atomic_open`): a failed or interrupted run leaves the
previous output untouched, never half a file. `-` streams to stdout instead, always as UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

import typer

from cli.records import Record, Reject
from perturb import PerturbationResult
from perturb.atomic import atomic_open, is_special

STDOUT = "-"
OUTPUT_FORMATS = ("jsonl", "csv")
#: CSV is long: one row per negative, the provenance columns last.
CSV_COLUMNS = ("id", "kind", "draw", "applicable", "original", "text")


@contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """A text handle on `path` (atomic) or on stdout for `-`."""
    if path == STDOUT:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
            stream.flush()
        finally:
            stream.detach()  # leave stdout open for the summary and the caller
    else:
        with atomic_open(path, "w", newline="") as handle:
            yield handle


def output_format(path: str, explicit: str | None) -> str:
    """`--output-format`, else CSV for a `.csv`/`.csv.gz` path, else JSONL."""
    if explicit:
        return explicit
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return "csv" if suffixes and suffixes[-1] == ".csv" else "jsonl"


def default_rejects_path(output: str) -> str | None:
    """`OUTPUT.rejects.jsonl` beside the output (known suffixes dropped); None (stderr) for stdout
    and for a device or FIFO, beside which nothing is made."""
    if output == STDOUT or is_special(output):
        return None
    path = Path(output)
    name = path.name
    for suffix in (".gz", ".jsonl", ".csv"):
        name = name.removesuffix(suffix)
    return str(path.with_name(f"{name}.rejects.jsonl"))


class CorpusWriter(Protocol):
    def write(self, record: Record, original: str, results: Sequence[PerturbationResult]) -> None: ...


class JsonlCorpusWriter:
    """One JSON object per record; `meta` (provenance) is repeated on every row so that shards
    can be concatenated, sorted or split without losing it."""

    def __init__(self, handle: IO[str], meta: dict[str, Any]) -> None:
        self.handle = handle
        self.meta = meta

    def write(self, record: Record, original: str, results: Sequence[PerturbationResult]) -> None:
        row = {
            "id": record.key,
            "original": original,
            "perturbations": [
                {"kind": r.kind, "text": r.text, "applicable": r.applicable, "draw": r.draw} for r in results
            ],
            "meta": self.meta,
        }
        self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")


class CsvCorpusWriter:
    """One CSV row per negative (id, kind, draw, applicable, original, text, provenance...)."""

    def __init__(self, handle: IO[str], meta: dict[str, Any]) -> None:
        self.writer = csv.writer(handle)
        self.meta_values = list(meta.values())
        self.writer.writerow([*CSV_COLUMNS, *meta])

    def write(self, record: Record, original: str, results: Sequence[PerturbationResult]) -> None:
        self.writer.writerows(
            [record.key, r.kind, r.draw, str(r.applicable).lower(), original, r.text, *self.meta_values]
            for r in results
        )


def corpus_writer(fmt: str, handle: IO[str], meta: dict[str, Any]) -> CorpusWriter:
    return CsvCorpusWriter(handle, meta) if fmt == "csv" else JsonlCorpusWriter(handle, meta)


class RejectsWriter:
    """Rejected rows as JSONL (`source`, `line`, `id`, `reason`), or as lines on stderr when the
    corpus goes to stdout and no rejects file was named."""

    def __init__(self, handle: IO[str] | None) -> None:
        self.handle = handle
        self.count = 0

    def write(self, reject: Reject) -> None:
        self.count += 1
        if self.handle is None:
            typer.echo(f"rejected {reject}", err=True)
        else:
            self.handle.write(json.dumps(reject.to_dict(), ensure_ascii=False) + "\n")


@contextmanager
def open_rejects(path: str | None) -> Iterator[RejectsWriter]:
    if path is None:
        yield RejectsWriter(None)
    else:
        with open_output(path) as handle:
            yield RejectsWriter(handle)

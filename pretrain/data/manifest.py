"""The image–report manifest: one row per pair, `id, image, findings, impression, tags, split`.

JSONL or CSV (chosen by the file name; `.gz` works too). `image` is relative to the manifest's
folder so a dataset folder can be moved or copied as a whole. In CSV, tags are joined by `;`
(MeSH tags contain commas and slashes but never semicolons). Ids are unique: they key the parses
and seed the negatives.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from perturb.atomic import atomic_open, open_text
from perturb.errors import DataError
from perturb.parser import text_problem, unicode_problem
from pretrain.data.splits import SPLITS

FIELDS = ("id", "image", "findings", "impression", "tags", "split")
TAG_SEPARATOR = ";"


class ManifestError(DataError):
    """A manifest that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ManifestRow:
    id: str
    image: str
    findings: str
    impression: str
    tags: tuple[str, ...] = field(default=())
    split: str = "train"

    @property
    def text(self) -> str:
        """Findings and impression joined by a blank line (either may be empty)."""
        return "\n\n".join(part for part in (self.findings, self.impression) if part)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "image": self.image, "findings": self.findings,
                "impression": self.impression, "tags": list(self.tags), "split": self.split}


def _is_csv(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(".csv")


def write_manifest(path: str | os.PathLike[str], rows: Iterable[ManifestRow]) -> int:
    """Write rows atomically (JSONL, or CSV for `*.csv`); returns how many were written."""
    path = Path(path)
    count = 0
    with atomic_open(path, "w", newline="" if _is_csv(path) else None) as stream:
        if _is_csv(path):
            writer = csv.DictWriter(stream, fieldnames=FIELDS)
            writer.writeheader()
            for row in rows:
                record = row.to_dict()
                record["tags"] = TAG_SEPARATOR.join(row.tags)
                writer.writerow(record)
                count += 1
        else:
            for row in rows:
                stream.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
                count += 1
    return count


def _row_from(record: object, where: str) -> ManifestRow:
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: not a JSON object")
    missing = [name for name in FIELDS if name not in record]
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    for name in ("id", "image", "findings", "impression", "split"):
        if not isinstance(record[name], str):
            raise ManifestError(f"{where}: '{name}' must be a string")
    tags = record["tags"]
    if isinstance(tags, str):
        tags = [tag for tag in tags.split(TAG_SEPARATOR) if tag]
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ManifestError(f"{where}: 'tags' must be a list of strings")
    if not record["id"] or not record["image"]:
        raise ManifestError(f"{where}: empty 'id' or 'image'")
    if record["split"] not in SPLITS:
        raise ManifestError(f"{where}: split {record['split']!r} is not one of {', '.join(SPLITS)}")
    for name in ("id", "image"):
        if problem := unicode_problem(record[name]):
            raise ManifestError(f"{where}: '{name}' is {problem}")
    if any(problem := unicode_problem(tag) for tag in tags):
        raise ManifestError(f"{where}: a tag is {problem}")
    row = ManifestRow(record["id"], record["image"], record["findings"], record["impression"],
                      tuple(tags), record["split"])
    if problem := text_problem(row.text):
        raise ManifestError(f"{where}: the report is {problem}")
    return row


def _records(path: Path, stream) -> Iterator[tuple[str, object]]:
    """(`file:line`, parsed JSON object or CSV row) of every row; a line that is not JSON gives
    a ManifestError in place of its record."""
    if _is_csv(path):
        reader = csv.DictReader(stream)
        missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{path}:1: CSV header lacks {', '.join(missing)}")
        for record in reader:
            yield f"{path}:{reader.line_num}", record
        return
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except json.JSONDecodeError as err:
            yield f"{path}:{number}", ManifestError(f"{path}:{number}: not valid JSON ({err.msg})")


def read_manifest(path: str | os.PathLike[str], *, rejects: list[str] | None = None) -> list[ManifestRow]:
    """All rows. A bad row (or a repeated id) raises `ManifestError` naming `file:line`; with a
    `rejects` list it is appended there as `file:line: reason` instead, and reading goes on.
    A file that cannot be read at all (missing, not UTF-8, a truncated .gz) always raises."""
    path = Path(path)
    rows: list[ManifestRow] = []
    first_line: dict[str, str] = {}
    try:
        with open_text(path) as stream:
            for where, record in _records(path, stream):
                try:
                    if isinstance(record, ManifestError):
                        raise record
                    row = _row_from(record, where)
                    if row.id in first_line:
                        raise ManifestError(f"{where}: duplicate id {row.id!r} (first at {first_line[row.id]})")
                except ManifestError as err:
                    if rejects is None:
                        raise
                    rejects.append(str(err))
                    continue
                first_line[row.id] = where
                rows.append(row)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ManifestError(f"{path}: truncated or corrupt gzip file ({err})") from None
    except (UnicodeDecodeError, csv.Error, IsADirectoryError) as err:
        raise ManifestError(f"{path}: cannot be read ({err})") from None
    return rows


def image_path(manifest: str | os.PathLike[str], row: ManifestRow) -> Path:
    """Where `row.image` is on disk (relative paths are relative to the manifest's folder)."""
    image = Path(row.image)
    return image if image.is_absolute() else Path(manifest).parent / image

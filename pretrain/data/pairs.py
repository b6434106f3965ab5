"""The pairs file: two images and two reports that differ in one finding, one JSONL row each.

    {"id": "CXR12:laterality:0", "image_a": "images/CXR12.png", "text_a": "...",
     "image_b": "counterfactuals/CXR12.laterality.0.png", "text_b": "...",
     "family": "laterality", "edit": {"finding": "pleural effusion", "from": "right", ...},
     "tags_a": [...], "tags_b": [...], "report_id": "CXR12"}

Report A describes image A and report B image B. `image_a`, `text_a`, `image_b`, `text_b` and
`family` are required; `id` (default: the line number), `edit` (a JSON object saying what
changed), `tags_a`, `tags_b` and `report_id` (pairs made from one report are resampled together
by the bootstrap; default: the id) are optional. Image paths are relative to the file's folder.
The counterfactual builder writes this format, and it is how real matched pairs are brought in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from perturb.io.atomic import atomic_open
from perturb.errors import DataError
from pretrain.data.reports import Reject

REQUIRED = ("image_a", "text_a", "image_b", "text_b", "family")


class PairsFileError(DataError):
    """The pairs file itself cannot be read; the message is one line."""


@dataclass(frozen=True)
class Pair:
    id: str
    image_a: str
    text_a: str
    image_b: str
    text_b: str
    family: str
    edit: dict = field(default_factory=dict)
    tags_a: tuple[str, ...] = ()
    tags_b: tuple[str, ...] = ()
    report_id: str = ""

    @property
    def group(self) -> str:
        """The bootstrap's unit: pairs of one report stand or fall together."""
        return self.report_id or self.id

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "image_a": self.image_a, "text_a": self.text_a,
                "image_b": self.image_b, "text_b": self.text_b, "family": self.family,
                "edit": self.edit, "tags_a": list(self.tags_a), "tags_b": list(self.tags_b),
                "report_id": self.report_id}


def write_pairs(path: str | os.PathLike[str], pairs: Iterable[Pair]) -> int:
    """Write `pairs` as JSONL atomically (a reader never sees half a file); returns the count."""
    count = 0
    with atomic_open(path, "w") as stream:
        for pair in pairs:
            stream.write(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def image_path(pairs_file: str | os.PathLike[str], image: str) -> Path:
    """Where an image named in the pairs file is on disk."""
    path = Path(image)
    return path if path.is_absolute() else Path(pairs_file).parent / path


def _tags(row: dict, name: str) -> tuple[str, ...]:
    value = row.get(name, [])
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError(f"'{name}' is not a list of strings")
    return tuple(value)


def _pair(line: str, number: int, pairs_file: Path, check_images: bool) -> Pair:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg})") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    for name in REQUIRED:
        if name not in row:
            raise ValueError(f"missing field '{name}'")
        if not isinstance(row[name], str) or not row[name].strip():
            raise ValueError(f"'{name}' is not a non-empty string")
    pair_id = row.get("id", f"line {number}")
    if not isinstance(pair_id, (str, int)) or str(pair_id).strip() == "":
        raise ValueError("'id' is not a non-empty string")
    edit = row.get("edit", {})
    if not isinstance(edit, dict):
        raise ValueError("'edit' is not a JSON object")
    report_id = row.get("report_id", "")
    if not isinstance(report_id, str):
        raise ValueError("'report_id' is not a string")
    if row["text_a"] == row["text_b"]:
        raise ValueError("text_a and text_b are the same text")
    if row["image_a"] == row["image_b"]:
        raise ValueError("image_a and image_b are the same file")
    if check_images:
        for name in ("image_a", "image_b"):
            if not image_path(pairs_file, row[name]).is_file():
                raise ValueError(f"{name} {row[name]!r} not found")
    return Pair(str(pair_id), row["image_a"], row["text_a"], row["image_b"], row["text_b"],
                row["family"], edit, _tags(row, "tags_a"), _tags(row, "tags_b"), report_id)


def read_pairs(path: str | os.PathLike[str], *, check_images: bool = True
               ) -> tuple[list[Pair], list[Reject]]:
    """Good pairs in file order, and one reject (with its line number) per bad non-blank line:
    invalid JSON or UTF-8, a missing or empty field, a duplicate id, identical texts or images,
    or (with `check_images`) an image that is not there."""
    path = Path(path)
    pairs: list[Pair] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    try:
        with open(path, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                    if not line.strip():
                        continue
                    pair = _pair(line, number, path, check_images)
                    if pair.id in seen:
                        raise ValueError(f"duplicate id {pair.id!r}")
                except UnicodeDecodeError:
                    rejects.append(Reject(number, "not valid UTF-8"))
                    continue
                except ValueError as err:
                    rejects.append(Reject(number, str(err)))
                    continue
                seen.add(pair.id)
                pairs.append(pair)
    except FileNotFoundError:
        raise PairsFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PairsFileError(f"{path}: is a folder, expected a JSONL pairs file") from None
    except OSError as err:
        raise PairsFileError(f"{path}: cannot be read ({err})") from None
    return pairs, rejects

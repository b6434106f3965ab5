"""Read the reports JSONL that phantoms are rendered for (`id, findings, impression, mesh`).

Bad rows do not stop a long run: each becomes a `Reject` with its line number, counted and shown
to the user, so no row is ever dropped silently.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from perturb.atomic import open_text
from perturb.errors import UsageError
from perturb.parser import text_problem, unicode_problem
from pretrain.data.openi import OpenIReport


class ReportsFileError(UsageError):
    """The file itself cannot be read (missing, not UTF-8); one-line message."""


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def _parse_row(line: str, seen: set[str]) -> OpenIReport:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg})") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    report_id = row.get("id")
    if not isinstance(report_id, (str, int)) or str(report_id).strip() == "":
        raise ValueError("no 'id'")
    report_id = str(report_id)
    if problem := unicode_problem(report_id):
        raise ValueError(f"'id' is {problem}")
    if report_id in seen:
        raise ValueError(f"duplicate id {report_id!r}")
    texts = []
    for field in ("findings", "impression"):
        value = row.get(field) or ""
        if not isinstance(value, str):
            raise ValueError(f"'{field}' is not a string")
        texts.append(value.strip())
    if not any(texts):
        raise ValueError(f"report {report_id!r} has no text (findings and impression empty)")
    mesh = row.get("mesh", [])
    if not isinstance(mesh, list) or not all(isinstance(tag, str) for tag in mesh):
        raise ValueError("'mesh' is not a list of strings")
    if any(problem := unicode_problem(tag) for tag in mesh):
        raise ValueError(f"a 'mesh' tag is {problem}")
    report = OpenIReport(report_id, texts[0], texts[1], tuple(tag.strip() for tag in mesh if tag.strip()))
    if problem := text_problem(report.text):
        raise ValueError(f"report {report_id!r} is {problem}")
    return report


def read_reports(path: str | os.PathLike[str]) -> tuple[list[OpenIReport], list[Reject]]:
    """Good reports in file order, and one reject per bad non-blank line."""
    path = Path(path)
    reports: list[OpenIReport] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    try:
        with open_text(path) as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    report = _parse_row(line, seen)
                except ValueError as err:
                    rejects.append(Reject(number, str(err)))
                    continue
                seen.add(report.id)
                reports.append(report)
    except FileNotFoundError:
        raise ReportsFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportsFileError(f"{path}: is a folder, expected a JSONL file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ReportsFileError(f"{path}: truncated or corrupt gzip file ({err})") from None
    except (UnicodeDecodeError, OSError) as err:
        raise ReportsFileError(f"{path}: cannot be read ({err})") from None
    return reports, rejects

"""Output files shared by the evaluation commands.

An interrupted run (Ctrl-C, a GPU call hitting its time limit) must never leave a half-written
JSON that a resumed ablation would trust, so files are written through `perturb.atomic`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perturb.atomic import atomic_open


def write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    """JSON with NaN written as null, so that every JSON reader accepts the file."""
    return write_text(path, json.dumps(_nan_to_none(data), indent=2) + "\n")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value

"""Output files and the progress bar shared by the evaluation commands.

An interrupted run (Ctrl-C, a GPU call hitting its time limit) must never leave a half-written
JSON that a resumed ablation would trust, so files are written through `perturb.io.atomic`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perturb.io.atomic import atomic_open


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


def progress_bar(quiet: bool = False) -> Progress:
    """A rich progress bar on stderr, silent with `quiet` or when stderr is not a terminal."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


@contextmanager
def staged_progress(quiet: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Yields `advance(stage, done, total)`: one bar per stage, created when first reported and
    removed when complete."""
    with progress_bar(quiet) as progress:
        tasks: dict[str, list] = {}  # stage → [task id, items done]

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = [progress.add_task(stage, total=total), 0]
            task = tasks[stage]
            progress.advance(task[0], done)
            task[1] += done
            if task[1] >= total:
                progress.remove_task(tasks.pop(stage)[0])

        yield advance

"""A rich progress bar for long runs, on stderr, silent when stderr is not a terminal or with
`--quiet` (so logs of cluster jobs and pipes stay clean)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli.console import stderr_console


@contextmanager
def report_progress(
    total_bytes: int | None, *, quiet: bool, label: str = "perturbing"
) -> Iterator[Callable[[int, int], None]]:
    """Yields `update(bytes_read, reports)`. Progress and ETA follow the bytes read (known up
    front for files, unlike the number of reports); the rate is in reports per second."""
    console = stderr_console()
    progress = Progress(
        SpinnerColumn(),
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[reports]:,} reports"),
        TextColumn("{task.fields[rate]:,.0f} reports/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )
    task = progress.add_task(label, total=total_bytes, reports=0, rate=0.0)
    start = time.monotonic()

    def update(bytes_read: int, reports: int) -> None:
        rate = reports / max(time.monotonic() - start, 1e-9)
        progress.update(task, completed=bytes_read, reports=reports, rate=rate)

    with progress:
        yield update

"""Every progress bar of `radperturb`, on stderr, silent when stderr is not a terminal or with
`--quiet` (so logs of cluster jobs and pipes stay clean). The library reports progress through
callbacks (`pretrain.progress.Progress`); the bars are drawn here only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars

from cli.console import stderr_console


def _bars(*columns: str | ProgressColumn, quiet: bool, transient: bool = False) -> Bars:
    console = stderr_console()
    return Bars(*columns, console=console, disable=quiet or not console.is_terminal, transient=transient)


@contextmanager
def report_progress(
    total_bytes: int | None, *, quiet: bool, label: str = "perturbing"
) -> Iterator[Callable[[int, int], None]]:
    """Yields `update(bytes_read, reports)`. Progress and ETA follow the bytes read (known up
    front for files, unlike the number of reports); the rate is in reports per second."""
    bars = _bars(SpinnerColumn(), TextColumn(f"[bold]{label}"), BarColumn(), TaskProgressColumn(),
                 TextColumn("{task.fields[reports]:,} reports"), TextColumn("{task.fields[rate]:,.0f} reports/s"),
                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), quiet=quiet)
    task = bars.add_task(label, total=total_bytes, reports=0, rate=0.0)
    start = time.monotonic()

    def update(bytes_read: int, reports: int) -> None:
        rate = reports / max(time.monotonic() - start, 1e-9)
        bars.update(task, completed=bytes_read, reports=reports, rate=rate)

    with bars:
        yield update


class StageBars:
    """A `pretrain.progress.Progress` that draws one bar per stage, made when the stage first
    reports and removed when it is complete; `console` prints lines above the bars."""

    def __init__(self, bars: Bars) -> None:
        self._bars = bars
        self._tasks: dict[str, list] = {}  # stage → [task id, items done]
        self.console: Console = bars.console

    def __call__(self, stage: str, done: int, total: int, values: Mapping[str, float] | None = None) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = [self._bars.add_task(stage, total=total, values=""), 0]
        task = self._tasks[stage]
        task[1] += done
        shown = " ".join(f"{name} {value:.3g}" for name, value in (values or {}).items())
        self._bars.update(task[0], advance=done, total=total, values=shown)
        if task[1] >= total:
            self._bars.remove_task(self._tasks.pop(stage)[0])


@contextmanager
def stage_progress(quiet: bool) -> Iterator[StageBars]:
    """Bars by stage for the work of one command (parsing, rendering, training, evaluating)."""
    bars = _bars(TextColumn("[bold]{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                 TextColumn("{task.fields[values]}"), TimeElapsedColumn(), TextColumn("ETA"),
                 TimeRemainingColumn(), quiet=quiet, transient=True)
    with bars:
        yield StageBars(bars)

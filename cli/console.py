"""The CLI's rich consoles. On a terminal rich takes its width; into a pipe or a file it would
cut every table to 80 columns, so tables are printed there as wide as they need."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement

#: Wider than any table: the width a table is measured in when no terminal bounds it.
UNBOUNDED = 100_000


def stderr_console() -> Console:
    return Console(stderr=True)


def print_table(table: RenderableType, *, stderr: bool = False) -> None:
    """Print `table` (stdout, or stderr) at the terminal's width, else at its own full width."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        unbounded = console.options.update_width(UNBOUNDED)
        console = Console(stderr=stderr, width=Measurement.get(console, unbounded, table).maximum)
    console.print(table)


def print_problems(console: Console, title: str, lines: list[str], shown: int = 10) -> None:
    """`N title`, then the first `shown` lines (rejected rows, failed images) and how many more."""
    if not lines:
        return
    console.print(f"[bold yellow]{len(lines):,} {title}[/]")
    for line in lines[:shown]:
        console.print(f"  {line}", markup=False, highlight=False)
    if len(lines) > shown:
        console.print(f"  … and {len(lines) - shown:,} more")

"""The closing tally of a corpus run: read = written + rejected, and per kind how often it applied."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.table import Table

from perturb.io import Perturbed


@dataclass
class Tally:
    kinds: tuple[str, ...]
    written: int = 0
    rejected: int = 0
    applicable: Counter[str] = field(default_factory=Counter)
    drawn: Counter[str] = field(default_factory=Counter)

    @property
    def read(self) -> int:
        return self.written + self.rejected

    def add(self, item: Perturbed) -> None:
        self.written += 1
        for result in item.results:
            self.drawn[result.kind] += 1
            self.applicable[result.kind] += result.applicable

    def table(self, seconds: float, parsed: int, from_cache: int) -> Table:
        """Counts first, then one row per kind with its applicable rate."""
        table = Table(title="radperturb perturb", show_header=True, title_justify="left")
        table.add_column("")
        table.add_column("count", justify="right")
        table.add_column("rate", justify="right")
        table.add_row("read", f"{self.read:,}", "")
        rate = self.written / max(seconds, 1e-9)
        table.add_row(
            "written",
            f"{self.written:,}",
            f"{rate:,.{0 if rate >= 100 else 1}f} reports/s in {seconds:,.1f} s",
        )
        table.add_row("rejected", f"{self.rejected:,}", "")
        table.add_row("parsed (spaCy / cache)", f"{parsed:,} / {from_cache:,}", "", end_section=True)
        for kind in self.kinds:
            drawn = self.drawn[kind]
            rate = f"{self.applicable[kind] / drawn:.1%} applicable" if drawn else "–"
            table.add_row(kind, f"{self.applicable[kind]:,} / {drawn:,}", rate)
        return table

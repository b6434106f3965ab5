"""Training metrics: running averages for the progress bar, `metrics.jsonl` (one row per logging
window) and the loss-curve PNG drawn from it."""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perturb.atomic import atomic_open

class WindowMeans:
    """Means of named values since the last `pop()`."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self._sums[key] += value
            self._counts[key] += 1

    def means(self) -> dict[str, float]:
        return {k: self._sums[k] / self._counts[k] for k in self._sums}

    def pop(self) -> dict[str, float]:
        out = self.means()
        self._sums.clear()
        self._counts.clear()
        return out


class MetricsLog:
    """Append-only JSONL of metric rows. On resume, rows after the checkpoint's step are dropped
    (they belong to the lost part of the interrupted run) before new rows are appended."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def truncate_after(self, step: int) -> None:
        kept = [row for row in self.rows() if row["step"] <= step]
        with atomic_open(self.path, "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in kept)

    def append(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


def plot_loss_curve(
    rows: list[dict[str, Any]],
    path: str | os.PathLike[str],
    terms: Sequence[str],
    metrics: Sequence[str] = (),
    title: str = "",
) -> Path | None:
    """The weighted total and each loss term (unweighted) against the optimizer step, and beside
    them the terms' metrics (fractions, such as how often the original report ranks first);
    None without rows."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for key in ("loss", *terms):
        axes[0].plot(steps, [row[key] for row in rows], label="total (weighted)" if key == "loss" else key)
    axes[0].set(xlabel="optimizer step", ylabel="loss", title=title or "pretraining losses")
    axes[0].legend()
    for key in metrics:
        axes[1].plot(steps, [row[key] for row in rows], label=key)
    if metrics:
        axes[1].legend()
    axes[1].set(xlabel="optimizer step", ylim=(0, 1.02), title="metrics of the loss terms")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)

"""Headline metrics of one evaluation, and their mean ± std over seeds for the ablation table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Metric name → path into the evaluation result; the columns of the ablation table. The
#: `_other_image` ones are the control with another patient's image (the part of the semantic
#: score the text encoder earns on its own) and the `_blind_lm` ones a word-bigram model of the
#: training reports with no image; `pairs_*` are the 2×2 scores on the counterfactual pairs.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "semantic_paper": ("semantic", "paper", "accuracy"),
    "semantic_all": ("semantic", "all", "accuracy"),
    "semantic_paper_other_image": ("semantic_other_image", "paper", "accuracy"),
    "semantic_all_other_image": ("semantic_other_image", "all", "accuracy"),
    "semantic_paper_blind_lm": ("semantic_blind_lm", "paper", "accuracy"),
    "semantic_all_blind_lm": ("semantic_blind_lm", "all", "accuracy"),
    "pairs_text": ("pairs", "model", "overall", "text", "score"),
    "pairs_image": ("pairs", "model", "overall", "image", "score"),
    "pairs_group": ("pairs", "model", "overall", "group", "score"),
    "i2r_R@1": ("retrieval", "image_to_report", "R@1"),
    "i2r_R@5": ("retrieval", "image_to_report", "R@5"),
    "i2r_R@10": ("retrieval", "image_to_report", "R@10"),
    "r2i_R@1": ("retrieval", "report_to_image", "R@1"),
    "r2i_R@5": ("retrieval", "report_to_image", "R@5"),
    "r2i_R@10": ("retrieval", "report_to_image", "R@10"),
    "zero_shot_auroc": ("zero_shot", "macro_auroc"),
    "probe_auroc": ("linear_probe", "macro_auroc"),
}
#: Where each headline metric's chance level is in the result (a number: a fixed level).
CHANCE: dict[str, tuple[str, ...] | float] = {
    "semantic_paper": ("semantic", "paper", "chance"),
    "semantic_all": ("semantic", "all", "chance"),
    "semantic_paper_other_image": ("semantic_other_image", "paper", "chance"),
    "semantic_all_other_image": ("semantic_other_image", "all", "chance"),
    "semantic_paper_blind_lm": ("semantic_blind_lm", "paper", "chance"),
    "semantic_all_blind_lm": ("semantic_blind_lm", "all", "chance"),
    "pairs_text": ("pairs", "chance", "text"),
    "pairs_image": ("pairs", "chance", "image"),
    "pairs_group": ("pairs", "chance", "group"),
    **{f"{d}_R@{k}": ("retrieval", "chance", f"R@{k}") for d in ("i2r", "r2i") for k in (1, 5, 10)},
    "zero_shot_auroc": 0.5,
    "probe_auroc": 0.5,
}


def _lookup(result: Mapping, path: tuple[str, ...] | float) -> float:
    if isinstance(path, float):
        return path
    value: object = result
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float("nan") if value is None else float(value)


def headline(result: Mapping) -> dict[str, float]:
    """The headline metrics of one evaluation result, and each one's chance level under
    `chance:<metric>`; a missing or undefined value is NaN."""
    out = {name: _lookup(result, path) for name, path in HEADLINE_METRICS.items()}
    out.update({f"chance:{name}": _lookup(result, path) for name, path in CHANCE.items()})
    return out


def mean_std(runs: Mapping[str, Sequence[Mapping[str, float]]]) -> dict[str, dict[str, dict]]:
    """Setting → metric → {mean, std, n, chance} over the seeds where the metric is defined; `std`
    is the sample standard deviation (NaN with fewer than two seeds), `chance` the mean chance
    level (the same for every seed when the evaluation data are)."""
    summary: dict[str, dict[str, dict]] = {}
    for setting, rows in runs.items():
        summary[setting] = {}
        for metric in HEADLINE_METRICS:
            values = np.array([r[metric] for r in rows if metric in r], dtype=np.float64)
            values = values[~np.isnan(values)]
            chances = np.array([r.get(f"chance:{metric}", np.nan) for r in rows], dtype=np.float64)
            chances = chances[~np.isnan(chances)]
            summary[setting][metric] = {
                "mean": float(values.mean()) if len(values) else float("nan"),
                "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                "n": int(len(values)),
                "chance": float(chances.mean()) if len(chances) else float("nan"),
            }
    return summary


def chance_levels(summary: Mapping[str, Mapping[str, Mapping]], metrics: Sequence[str]) -> list[float]:
    """Each metric's chance level: the first setting's that has one (all settings are evaluated
    on the same data, so they agree)."""
    levels = []
    for metric in metrics:
        found = [e[metric].get("chance") for e in summary.values() if metric in e]
        found = [c for c in found if c is not None and c == c]
        levels.append(found[0] if found else float("nan"))
    return levels


def _cell(entry: Mapping[str, float]) -> str:
    mean, std = entry["mean"], entry["std"]
    if mean != mean:
        return "n/a"
    return f"{mean:.3f}" if std != std else f"{mean:.3f} ± {std:.3f}"


def markdown_table(summary: Mapping[str, Mapping[str, Mapping]], seeds: Mapping[str, Sequence[int]]) -> str:
    """One row per setting, one column per headline metric, cells `mean ± std` over seeds."""
    metrics = list(HEADLINE_METRICS)
    lines = [
        "| setting | seeds | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for setting, entries in summary.items():
        done = ",".join(map(str, seeds.get(setting, []))) or "-"
        lines.append(f"| {setting} | {done} | " + " | ".join(_cell(entries[m]) for m in metrics) + " |")
    chance = chance_levels(summary, metrics)
    if not all(np.isnan(chance)):
        cells = ("n/a" if np.isnan(c) else f"{c:.3f}" for c in chance)
        lines.append("| *chance* | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

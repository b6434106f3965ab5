"""The ablation on the grounded evaluation, as Markdown: one table of headline figures and one of
the counterfactual pairs per family, each mean ± std over seeds beside chance and the blind
baselines.

Reads RESULTS/*.json, as `radperturb benchmark ablation --pairs FILE` writes them (one evaluation
per setting and seed). The blind n-gram model is the same for every run (it never sees an
image), so its figures are printed once. `ablation.json` beside RESULTS holds the command's own
summary of the headline metrics; this script adds what that table leaves out: the figures per
counterfactual family (one of them held out of `ours_clinical`'s training), the macro AUROC over
labels with ≥ 10 positives and image→report retrieval by tag set.

Usage (from the repo root):

    python benchmarks/ablation_table.py docs/bench-cpu/ablation/results
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

SETTING_ORDER = ("clip", "gloria", "ours_no_local", "ours", "ours_clinical", "hybridmed", "place")
SCORES = ("text", "image", "group")


def _cell(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _column(runs: list[dict], pick: Callable[[dict], float | None]) -> list[float]:
    values = [pick(r) for r in runs]
    return [v for v in values if v is not None]


def _path(result: dict, *keys: str) -> float | None:
    value: object = result
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else float(value)


HEADLINE: dict[str, Callable[[dict], float | None]] = {
    "semantic, paper's 4 kinds": lambda r: _path(r, "semantic", "paper", "accuracy"),
    "same, another patient's image": lambda r: _path(r, "semantic_other_image", "paper", "accuracy"),
    "semantic, all nine": lambda r: _path(r, "semantic", "all", "accuracy"),
    "pairs text": lambda r: _path(r, "pairs", "model", "overall", "text", "score"),
    "pairs image": lambda r: _path(r, "pairs", "model", "overall", "image", "score"),
    "pairs group": lambda r: _path(r, "pairs", "model", "overall", "group", "score"),
    "zero-shot AUROC (≥ 10 pos.)": lambda r: _path(r, "zero_shot", "macro_auroc_min10"),
    "probe AUROC (≥ 10 pos.)": lambda r: _path(r, "linear_probe", "macro_auroc_min10"),
    "i2r R@10, exact report": lambda r: _path(r, "retrieval", "image_to_report", "R@10"),
    "i2r R@10, tag set": lambda r: _path(r, "retrieval", "tag_set", "image_to_report", "R@10"),
}


def _chance_row(first: dict) -> dict[str, str]:
    pairs = first["pairs"]["chance"]
    return {
        "semantic, paper's 4 kinds": f"{first['semantic']['paper']['chance']:.3f}",
        "same, another patient's image": f"{first['semantic_other_image']['paper']['chance']:.3f}",
        "semantic, all nine": f"{first['semantic']['all']['chance']:.3f}",
        "pairs text": f"{pairs['text']:.3f}", "pairs image": f"{pairs['image']:.3f}",
        "pairs group": f"{pairs['group']:.3f}",
        "zero-shot AUROC (≥ 10 pos.)": "0.500", "probe AUROC (≥ 10 pos.)": "0.500",
        "i2r R@10, exact report": f"{first['retrieval']['chance']['R@10']:.3f}",
        "i2r R@10, tag set": f"{_path(first, 'retrieval', 'tag_set', 'chance', 'R@10') or float('nan'):.3f}",
    }


def _blind_row(first: dict) -> dict[str, str]:
    blind = first.get("semantic_blind_lm") or {}
    pairs = first["pairs"].get("blind_lm", {}).get("overall", {})
    row = {name: "" for name in HEADLINE}
    row["semantic, paper's 4 kinds"] = f"{blind['paper']['accuracy']:.3f}" if blind else "n/a"
    row["semantic, all nine"] = f"{blind['all']['accuracy']:.3f}" if blind else "n/a"
    for score in SCORES:
        if score in pairs:
            row[f"pairs {score}"] = f"{pairs[score]['score']:.3f}"
    return row


def main(folder: Path) -> None:
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    if not runs:
        raise SystemExit(f"no result files in {folder}")
    by_setting: dict[str, list[dict]] = {}
    for run in runs:
        by_setting.setdefault(run["run"]["setting"], []).append(run)
    settings = sorted(by_setting, key=lambda s: SETTING_ORDER.index(s) if s in SETTING_ORDER else len(SETTING_ORDER))
    first = runs[0]
    if not all(r.get("pairs") for r in runs):
        raise SystemExit(f"{folder}: some runs were evaluated without counterfactual pairs "
                         "(run `benchmark ablation --pairs FILE`)")
    print(f"split {first['split']}, {first['n_images']} images, {first['pairs']['n_pairs']} counterfactual pairs; "
          "mean ± std over seeds " + ", ".join(f"{s}: {sorted(r['run']['seed'] for r in by_setting[s])}"
                                            for s in settings) + "\n")
    names = list(HEADLINE)
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for setting in settings:
        cells = [_cell(_column(by_setting[setting], HEADLINE[name])) for name in names]
        print(f"| {setting} | " + " | ".join(cells) + " |")
    blind, chance = _blind_row(first), _chance_row(first)
    print("| blind n-gram LM (no image) | " + " | ".join(blind[name] for name in names) + " |")
    print("| chance | " + " | ".join(chance[name] for name in names) + " |")

    families = list(first["pairs"]["model"]["per_family"])
    print("\nCounterfactual pairs per family, text / image / group score (pairs per family: "
          + ", ".join(f"{f} {first['pairs']['model']['per_family'][f]['n']}" for f in families) + ")\n")
    print("| | " + " | ".join(families) + " |")
    print("|---|" + "---|" * len(families))
    for setting in settings:
        cells = []
        for family in families:
            parts = [_cell(_column(by_setting[setting], lambda r, f=family, s=score:
                                   _path(r, "pairs", "model", "per_family", f, s, "score"))) for score in SCORES]
            cells.append(" / ".join(parts))
        print(f"| {setting} | " + " | ".join(cells) + " |")
    chance_pairs = first["pairs"]["chance"]
    print("| chance | " + " | ".join(" / ".join(f"{chance_pairs[s]:.3f}" for s in SCORES) for _ in families) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("Usage")[1])
    main(Path(sys.argv[1]))

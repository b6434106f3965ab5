"""The grounding floor's figures from `radperturb benchmark ablation` result files, as Markdown.

Reads RESULTS/*.json (one evaluation per setting and seed, as the ablation writes them) and prints
zero-shot AUROC per label (labels with >= 10 positives on the evaluated split), their macro mean
(and the linear probe's, when the runs fitted one),
image→report R@K by exact report and by tag set beside their random-ranking levels, and each run's
seconds: per seed, then mean ± std over seeds.

Usage (from the repo root):

    python benchmarks/recipe_table.py docs/bench-cpu/recipe/results
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def main(folder: Path) -> None:
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    if not runs:
        raise SystemExit(f"no result files in {folder}")
    names = [f"{r['run']['setting']} seed {r['run']['seed']}" for r in runs]
    labels = runs[0]["zero_shot"]["labels_min10"]
    per_label = runs[0]["zero_shot"]["per_label"]
    print(f"split {runs[0]['split']}, {runs[0]['n_images']} images\n")
    print("| label | positives | " + " | ".join(names) + " | mean ± std |")
    print("|---|---:|" + "---:|" * (len(runs) + 1))
    rows = [(label, [r["zero_shot"]["per_label"][label]["auroc"] for r in runs]) for label in labels]
    for label, values in rows:
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {label} | {per_label[label]['n_positive']} | {cells} | {_mean_std(values)} |")
    macro = [r["zero_shot"]["macro_auroc_min10"] for r in runs]
    print(f"| **macro (>= 10 positives)** | | {' | '.join(f'{v:.3f}' for v in macro)} | **{_mean_std(macro)}** |")
    if all(r.get("linear_probe") for r in runs):
        probe = [r["linear_probe"]["macro_auroc_min10"] for r in runs]
        print(f"| linear probe, macro (>= 10 positives) | | {' | '.join(f'{v:.3f}' for v in probe)} | "
              f"{_mean_std(probe)} |")
    print("\n| image → report | " + " | ".join(names) + " | mean ± std | random ranking |")
    print("|---|" + "---:|" * (len(runs) + 2))
    for title, pick in (("exact report", lambda r: r["retrieval"]), ("tag set", lambda r: r["retrieval"]["tag_set"])):
        for k in ("R@1", "R@5", "R@10"):
            values = [pick(r)["image_to_report"][k] for r in runs]
            chance = statistics.mean(pick(r)["chance"][k] for r in runs)
            cells = " | ".join(f"{v:.3f}" for v in values)
            print(f"| {title} {k} | {cells} | {_mean_std(values)} | {chance:.3f} |")
    seconds = [r["run"]["seconds"] for r in runs]
    print(f"| run seconds (train + evaluate) | {' | '.join(f'{s:.0f}' for s in seconds)} | "
          f"{statistics.mean(seconds):.0f} | |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))

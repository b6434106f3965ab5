"""PNG figures of evaluation results (matplotlib, Agg backend, written atomically).

Every plot shows the level it should be read against — chance for discrimination, 0.5 for AUROC —
because a bar without its baseline invites the wrong conclusion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from perturb.atomic import atomic_open
from pretrain.evaluation.summary import chance_levels


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return Path(path)


def _value(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def plot_semantic(semantic: Mapping, path: str | Path, title: str = "") -> Path:
    """Accuracy of picking the original report, per setting and per kind, each bar with its own
    chance level (it depends on how many kinds apply)."""
    plt = _pyplot()
    rows = [("paper (4 kinds)", semantic["paper"]), ("all nine (the paper's)", semantic["all"])]
    rows += list(semantic["per_kind"].items())
    names = [name for name, _ in rows]
    acc = [_value(r["accuracy"]) for _, r in rows]
    chance = [_value(r["chance"]) for _, r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    colors = ["tab:blue", "tab:blue"] + ["tab:gray"] * (len(rows) - 2)
    ax.bar(x, acc, color=colors)
    ax.hlines(chance, x - 0.4, x + 0.4, colors="tab:red", linestyles="--", label="chance")
    ax.set_xticks(x, names, rotation=40, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (original strictly highest)")
    ax.set_title(title or "Clinical semantic-structure evaluation")
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_retrieval(retrieval: Mapping, path: str | Path, title: str = "") -> Path:
    """Recall@k for both directions, side by side, with the recall of a random ranking."""
    plt = _pyplot()
    directions = ["image_to_report", "report_to_image"]
    ks = list(retrieval[directions[0]])
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(ks))
    for i, direction in enumerate(directions):
        values = [retrieval[direction][k] for k in ks]
        label = direction.replace("_to_", " → ")
        ax.bar(x + (i - 0.5) * 0.38, values, width=0.38, label=label)
    chance = [retrieval["chance"][k] for k in ks]
    ax.hlines(chance, x - 0.4, x + 0.4, colors="tab:red", linestyles="--", label="random ranking")
    ax.set_xticks(x, ks)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall")
    ax.set_title(title or f"Retrieval (n = {retrieval.get('n', '?')})")
    ax.legend()
    return _save(fig, path)


def plot_classification(reports: Mapping[str, Mapping], path: str | Path, title: str = "") -> Path:
    """AUROC per label for each method (e.g. zero-shot, linear probe); n/a labels are left blank."""
    plt = _pyplot()
    methods = list(reports)
    labels = list(next(iter(reports.values()))["per_label"])
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(labels) + 2), 4))
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        values = [_value(reports[method]["per_label"][lab]["auroc"]) for lab in labels]
        macro = reports[method]["macro_auroc"]
        name = f"{method} (macro {macro:.3f})" if macro is not None else f"{method} (macro n/a)"
        offsets = x + (i - (len(methods) - 1) / 2) * width
        ax.bar(offsets, values, width=width, label=name)
        for position, value in zip(offsets, values):
            if value != value:
                ax.text(position, 0.02, "n/a", ha="center", fontsize=7, rotation=90)
    ax.axhline(0.5, color="tab:red", linestyle="--", label="chance")
    ax.set_xticks(x, labels, rotation=40, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("AUROC")
    ax.set_title(title or "Finding classification")
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_ablation(
    summary: Mapping[str, Mapping[str, Mapping[str, float]]],
    metrics: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Mean ± std over seeds of each metric (group) for each setting (bar), with each metric's
    chance level."""
    plt = _pyplot()
    settings = list(summary)
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(metrics) + 2), 4.5))
    x = np.arange(len(metrics))
    width = 0.8 / max(1, len(settings))
    for i, setting in enumerate(settings):
        means = [_value(summary[setting].get(m, {}).get("mean")) for m in metrics]
        stds = [_value(summary[setting].get(m, {}).get("std")) for m in metrics]
        ax.bar(x + (i - (len(settings) - 1) / 2) * width, means, width=width, yerr=stds,
               capsize=3, label=setting)
    chance = chance_levels(summary, metrics)
    ax.hlines(chance, x - 0.45, x + 0.45, colors="tab:red", linestyles="--", label="chance")
    ax.set_xticks(x, metrics, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(title or "Ablation: mean ± std over seeds")
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_loss(losses: Sequence[float], path: str | Path, title: str = "") -> Path:
    """Training loss per step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "Training loss")
    return _save(fig, path)


def plot_word_heatmaps(
    image: np.ndarray,
    words: Sequence[str],
    heatmaps: np.ndarray,
    path: str | Path,
    captions: Sequence[str] | None = None,
    columns: int = 6,
) -> Path:
    """The image, then one panel per word with its attention over regions overlaid.

    `image` is [H, W] (grey) or [H, W, 3] in 0..1; `heatmaps` is [words, H, W] on one 0..1 scale;
    `captions` (one per word) go under the word.
    """
    plt = _pyplot()
    panels = len(words) + 1
    columns = min(columns, panels)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    cmap = "gray" if image.ndim == 2 else None
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(image, cmap=cmap)
    axes.flat[0].set_title("image", fontsize=9)
    captions = captions or [""] * len(words)
    for ax, word, heat, caption in zip(axes.flat[1:], words, heatmaps, captions):
        ax.imshow(image, cmap=cmap)
        ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        ax.set_title(f"{word}\n{caption}" if caption else word, fontsize=9)
    return _save(fig, path)

"""Finding classification from image embeddings: zero-shot with prompts, and a linear probe.

Zero-shot asks whether an image is closer to "effusion" than to "no effusion", which only works
when the model reads negation; the probe asks whether the frozen image features carry the finding
at all. A label whose test (or, for the probe, training) split has only one class has no AUROC:
it is reported as n/a (None) and left out of the macro average. A label with a handful of test
positives has an AUROC too noisy to average with the others (three positives move it by a
third), so `macro_auroc_min10` averages only the labels with at least `MIN_POSITIVES` of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from pretrain.evaluation.labels import LABELS, LabelSpec

#: Test positives a label needs to enter `macro_auroc_min10`.
MIN_POSITIVES = 10


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve, or None when `y_true` has a single class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def _summary(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray | None]) -> dict:
    per_label = {}
    for name, y in labels.items():
        s = scores.get(name)
        per_label[name] = {
            "auroc": None if s is None else auroc(y, s),
            "n_positive": int(np.sum(y)),
            "n": int(len(y)),
        }
    defined = {name: v["auroc"] for name, v in per_label.items() if v["auroc"] is not None}
    frequent = [name for name in defined if per_label[name]["n_positive"] >= MIN_POSITIVES]
    return {
        "per_label": per_label,
        "macro_auroc": float(np.mean(list(defined.values()))) if defined else None,
        "n_labels": len(defined),
        "macro_auroc_min10": float(np.mean([defined[name] for name in frequent])) if frequent else None,
        "labels_min10": frequent,
    }


def _prompt_embedding(embed_texts: Callable[[list[str]], np.ndarray], prompts: tuple[str, ...]):
    mean = np.asarray(embed_texts(list(prompts)), dtype=np.float64).mean(axis=0)
    return mean / max(np.linalg.norm(mean), 1e-12)


def zero_shot_report(
    image_embeddings: np.ndarray,
    labels: Mapping[str, np.ndarray],
    embed_texts: Callable[[list[str]], np.ndarray],
    specs: Mapping[str, LabelSpec] = LABELS,
) -> dict:
    """AUROC of cos(image, positive prompts) − cos(image, negative prompts) per label; each side
    is the renormalised mean embedding of its prompts (CLIP-style prompt ensembling)."""
    images = np.asarray(image_embeddings, dtype=np.float64)
    scores = {}
    for name in labels:
        positive = _prompt_embedding(embed_texts, specs[name].positive)
        negative = _prompt_embedding(embed_texts, specs[name].negative)
        scores[name] = images @ positive - images @ negative
    return _summary(labels, scores)


def linear_probe_report(
    train_features: np.ndarray,
    train_labels: Mapping[str, np.ndarray],
    test_features: np.ndarray,
    test_labels: Mapping[str, np.ndarray],
    *,
    c: float = 1.0,
) -> dict:
    """One standardised, class-balanced logistic regression per label, fitted on frozen training
    features and scored on the test features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores: dict[str, np.ndarray | None] = {}
    for name, y_test in test_labels.items():
        y_train = train_labels[name]
        if len(np.unique(y_train)) < 2:
            scores[name] = None
            continue
        probe = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        )
        probe.fit(np.asarray(train_features, dtype=np.float64), y_train)
        scores[name] = probe.predict_proba(np.asarray(test_features, dtype=np.float64))[:, 1]
    report = _summary(test_labels, scores)
    for name, entry in report["per_label"].items():
        entry["n_train_positive"] = int(np.sum(train_labels[name]))
    return report

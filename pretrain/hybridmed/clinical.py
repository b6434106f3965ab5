"""Clinical accuracy of generated impressions: the labels they assert (`ImpressionLabeller`)
against the labels of the image's MeSH tags, per label and pooled (scikit-learn's
precision/recall/F1).

Open-I tags describe the whole report, FINDINGS included, while an impression often leaves a
finding out ("No acute disease." over a tagged granuloma). So even the reference impression
does not reach F1 = 1: score it with the same function (`clinical_accuracy(references, tags)`)
and read a generator's figure against that ceiling, and against a blind constant impression.

The pooled figures (micro P/R/F1, macro F1) leave the `normal` label out: an impression's "no
acute disease" and the tag `normal` ("nothing abnormal at all", withheld for a degenerative
spine) are different statements — on the train-split references the text's `normal` has
precision 0.48 at recall 0.99 — so it is reported per label only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from pretrain.evaluation.labels import label_matrix
from pretrain.hybridmed.text_labels import NORMAL, ImpressionLabeller


def _matrix(labels: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([labels[name] for name in labels], axis=1)


def clinical_accuracy(
    texts: Sequence[str], tag_lists: Sequence[Iterable[str]], labeller: ImpressionLabeller
) -> dict:
    """{'micro': {precision, recall, f1}, 'macro_f1' (over finding labels with a tagged
    positive), 'per_label': {name: {precision, recall, f1, n_positive, n_predicted}}, 'n'}."""
    if len(texts) != len(tag_lists):
        raise ValueError(f"{len(texts)} impressions but {len(tag_lists)} tag lists")
    if not texts:
        raise ValueError("no impressions to score")
    truth = _matrix(label_matrix(tag_lists, labeller.labels))
    predicted = _matrix(labeller.label_matrix(texts))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0)
    findings = [i for i, name in enumerate(labeller.labels) if name != NORMAL]
    micro = precision_recall_fscore_support(truth[:, findings], predicted[:, findings], average="micro",
                                            zero_division=0)
    per_label = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "n_positive": int(support[i]), "n_predicted": int(predicted[:, i].sum())}
        for i, name in enumerate(labeller.labels)
    }
    defined = [f1[i] for i in findings if support[i] > 0]
    return {
        "micro": {"precision": float(micro[0]), "recall": float(micro[1]), "f1": float(micro[2])},
        "macro_f1": float(np.mean(defined)) if defined else float("nan"),
        "per_label": per_label,
        "n": len(texts),
    }

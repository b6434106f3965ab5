"""The image-only reference: its labels, how it answers a 2×2 pair, and a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest

from pretrain.phantoms.counterfactual_set import build_counterfactual_set
from pretrain.data.manifest import ManifestRow
from pretrain.data.pairs import read_pairs
from pretrain.evaluation.ceiling import (
    HEADS, KIND_NAMES, CeilingConfig, answer, balanced_threshold, calibrate, ceiling_report, load_ceiling,
    save_ceiling, score_pairs_file, tag_targets, train_ceiling,
)

torch = pytest.importorskip("torch")
K = {kind: i for i, kind in enumerate(KIND_NAMES)}


def test_targets_read_presence_side_severity_and_zone_where_the_tags_decide_them():
    values, known = tag_targets(["Pleural Effusion/left/small", "Opacity/lung/base/right",
                                 "Opacity/lung/upper lobe/left", "Cardiomegaly", "No Indexing"])
    effusion, opacity, heart = K["pleural effusion"], K["airspace opacity"], K["cardiomegaly"]
    assert values[0, [effusion, opacity, heart]].tolist() == [1, 1, 1]
    assert values[0].sum() == 3 and known[0].all()
    assert (values[1, effusion], known[1, effusion]) == (1.0, True)           # left
    assert (values[2, effusion], known[2, effusion]) == (1.0, True)           # small
    assert not known[1:, opacity].any()          # two opacity tags: neither side nor zone known
    assert not known[2, heart]                   # no severity named
    values, known = tag_targets(["Nodule/lung/lower lobe/right"])
    assert (values[1, K["nodule"]], values[3, K["nodule"]]) == (0.0, 1.0)     # right, lower


def _outputs(**heads) -> np.ndarray:
    out = np.zeros((len(HEADS), len(KIND_NAMES)), dtype=np.float32)
    for name, (kind, value) in heads.items():
        out[HEADS.index(name), K[kind]] = value
    return out


def test_a_presence_pair_asks_which_image_shows_it_and_whether_each_is_classified_right():
    edit = {"finding": "pneumothorax", "from": "present", "to": "absent"}
    both = answer("presence", edit, "r", _outputs(present=("pneumothorax", 2.0)),
                  _outputs(present=("pneumothorax", -1.0)))
    assert both.correct() == {"text": True, "image": True, "group": True}
    ranked = answer("presence", edit, "r", _outputs(present=("pneumothorax", 2.0)),
                    _outputs(present=("pneumothorax", 1.0)))     # B called positive too
    assert ranked.correct() == {"text": False, "image": True, "group": False}
    added = {"finding": "pneumothorax", "from": "absent", "to": "present"}
    wrong = answer("presence", added, "r", _outputs(present=("pneumothorax", 2.0)),
                   _outputs(present=("pneumothorax", 1.0)))      # A (without it) scored higher
    assert wrong.correct() == {"text": False, "image": False, "group": False}


def test_side_zone_and_severity_pairs_use_their_own_heads():
    side = {"finding": "pleural effusion", "from": "right", "to": "left"}
    assert answer("laterality", side, "r", _outputs(left=("pleural effusion", -3.0)),
                  _outputs(left=("pleural effusion", 3.0))).correct()["group"]
    zone = {"finding": "nodule", "from": "lower lobe", "to": "upper lobe"}
    assert answer("location", zone, "r", _outputs(lower=("nodule", 1.0)),
                  _outputs(lower=("nodule", -1.0))).correct()["group"]
    grade = {"finding": "cardiomegaly", "from": "mild", "to": "severe"}      # midpoint 2.0
    scored = answer("severity", grade, "r", _outputs(severity=("cardiomegaly", 1.5)),
                    _outputs(severity=("cardiomegaly", 2.5)))
    assert scored.correct()["group"]
    below = answer("severity", grade, "r", _outputs(severity=("cardiomegaly", 1.0)),
                   _outputs(severity=("cardiomegaly", 1.8)))     # right order, both below 2
    assert below.correct() == {"text": False, "image": True, "group": False}


def test_a_pair_whose_edit_names_no_finding_or_attribute_is_not_answered():
    out = _outputs()
    assert answer("presence", {}, "r", out, out) is None
    assert answer("laterality", {"finding": "cardiomegaly", "from": "mild", "to": "severe"},
                  "r", out, out) is None
    assert answer("user family", {"finding": "nodule", "from": "a", "to": "b"}, "r", out,
                  out) is None


def test_the_threshold_separates_the_classes_at_best_balanced_accuracy():
    truth = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    scores = np.array([-3.0, -2.0, -1.0, 0.5, 1.0, 1.5, 2.0, 4.0])   # all logits would say 1
    cut = balanced_threshold(truth, scores)
    assert 1.5 < cut < 2.0
    # calling 3 and 4 positive: tpr 2/3, fpr 0 beats calling 1 to 4 positive: tpr 1, fpr 1/2
    assert balanced_threshold(np.array([0, 1, 0, 1, 1]), np.arange(5.0)) == 2.5


def _rows(split: str, n: int) -> list[ManifestRow]:
    pool = [("Pleural Effusion/right/small",), ("normal",), ("Opacity/lung/upper lobe/left",),
            ("Cardiomegaly/mild", "Catheters, Indwelling/right")]
    return [ManifestRow(f"{split}{i}", "x.png", "Report.", "", pool[i % len(pool)], split)
            for i in range(n)]


def test_a_tiny_training_run_scores_pairs_and_reloads_to_the_same_answers(tmp_path):
    torch.set_num_threads(1)
    config = CeilingConfig(size=32, epochs=1, batch_size=8, width=4)
    losses = []
    model = train_ceiling(_rows("train", 16), config, on_epoch=lambda e, loss: losses.append(loss))
    assert len(losses) == 1 and np.isfinite(losses[0])
    ceiling = calibrate(model, config, _rows("valid", 4), min_each=2)
    assert ceiling.thresholds[HEADS.index("present")].any()          # thresholds were set
    assert not ceiling.thresholds[HEADS.index("severity")].any()
    report = ceiling_report(ceiling, _rows("test", 8), n_boot=20)
    assert report["pairs"] == report["answered"] > 0
    assert set(report["winoground"]["per_family"]) <= {"laterality", "presence", "severity",
                                                       "location", "device"}
    save_ceiling(ceiling, tmp_path / "cnn")
    again = load_ceiling(tmp_path / "cnn")
    assert again.config == config and np.array_equal(again.thresholds, ceiling.thresholds)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    assert np.allclose(ceiling.decisions(images), again.decisions(images))
    # the same CNN answers a pairs file (images read back from PNG)
    build_counterfactual_set(_rows("test", 4), tmp_path / "pairs",
                             lambda row, edit: f"{row.text} {edit.family} {edit.after}", size=32)
    pairs, _ = read_pairs(tmp_path / "pairs" / "pairs.jsonl")
    scored = score_pairs_file(again, pairs, tmp_path / "pairs" / "pairs.jsonl")
    assert len(scored) == len(pairs) > 0

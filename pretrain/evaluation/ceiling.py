"""An image-only reference for the counterfactual pairs: a small CNN trained on tag labels.

The CNN reads, for every drawable kind, whether it is present, its side, its severity and its
upper/lower zone, trained on the training split's phantoms (labels from the tags, the same rules
that decide the counterfactual edits). It answers a pair of images knowing which finding and which
attribute the pair is about — what a model reads from the two reports — so its scores say how
much of each family the images at this size carry for a model that knows what to look for: the
reference an image–report model is read against, not a proof that none could do better.

How a label classifier answers a 2×2 pair. For the pair's finding k, the CNN gives each image a
number q(image) whose sign is its decision:

- presence, device: q = logit P(k present);
- laterality: q = logit P(k on the left);
- location: q = logit P(k in a lower zone);
- severity: q = predicted severity of k minus the midpoint of the two reports' levels.

The logit heads' decision thresholds are chosen on the validation split (the point of best
balanced accuracy per head and kind, `calibrate`), so 0 is the decision boundary of each q. A
report r gets σ(r) = +1 when it says present / left / lower / the greater severity, else −1, and
s(image, r) = σ(r)·q(image). So the image score (each report prefers its own image) asks which of
the two images shows the finding, the side, the lower zone or the greater severity; the text
score (each image prefers its own report) asks that each image be classified right on its own
(q(A) and q(B) on the correct sides of 0). A right text answer implies a right image answer, so
the group score equals the text score, and a classifier that knows nothing gets 25 % (text),
50 % (image) and 25 % (group), not the 25 / 25 / 16.7 % of random scores.

Training sees each report's phantom drawn with fresh anatomy every epoch (a new seed), and for
`edit_fraction` of the reports one counterfactual edit of its tags instead, so that every
side, severity and zone contrast appears for rare findings too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pretrain.data.manifest import ManifestRow
from pretrain.data.pairs import Pair, image_path
from pretrain.data.tags import SEVERITY, parse_tag
from pretrain.evaluation.grounded import PairScores, winoground_report
from pretrain.phantoms.counterfactual import (
    ABSENT, LOWER_ZONES, PRESENT, Edit, counterfactuals, render_edit, shown_severity, shown_side,
    shown_zone, tag_edits,
)
from pretrain.phantoms.findings import DRAWABLE_FINDINGS, classify
from pretrain.phantoms.phantom import render_phantom, seed_for

KIND_NAMES = tuple(kind for kind in DRAWABLE_FINDINGS if kind != "normal")
HEADS = ("present", "left", "severity", "lower")
_COLUMN = {kind: i for i, kind in enumerate(KIND_NAMES)}


def tag_targets(tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Targets [4, K] (present, left, severity, lower per kind) and whether each is known
    [4, K]. Presence is always known; side, severity and zone only where the kind's single tag
    decides them (a kind named by two tags gets none)."""
    values = np.zeros((len(HEADS), len(KIND_NAMES)), dtype=np.float32)
    known = np.zeros_like(values, dtype=bool)
    known[0] = True
    parsed = [(classify(tag), tag) for tag in map(parse_tag, tags)]
    kinds = [kind for kind, _ in parsed]
    for kind, tag in parsed:
        if kind is None or kind == "normal":
            continue
        k = _COLUMN[kind]
        values[0, k] = 1.0
        if kinds.count(kind) > 1:
            continue
        if (side := shown_side(kind, tag)) is not None:
            values[1, k], known[1, k] = side == "left", True
        if (word := shown_severity(kind, tag)) is not None:
            values[2, k], known[2, k] = SEVERITY[word], True
        if (zone := shown_zone(kind, tag)) is not None:
            values[3, k], known[3, k] = zone in LOWER_ZONES, True
    return values, known


@dataclass(frozen=True)
class CeilingConfig:
    size: int = 64
    epochs: int = 48
    batch_size: int = 64
    lr: float = 2e-3
    width: int = 32
    edit_fraction: float = 0.5
    seed: int = 0


def build_model(config: CeilingConfig):
    """Four conv blocks (each halving the image) to a 4×4 map, flattened so that position
    (side, zone) survives, then one hidden layer and 4·K outputs."""
    from torch import nn

    w = config.width
    layers: list = []
    for cin, cout in ((1, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)):
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(4 * w * 16, 256), nn.ReLU(inplace=True), nn.Dropout(0.2),
                         nn.Linear(256, len(HEADS) * len(KIND_NAMES)),
                         nn.Unflatten(1, (len(HEADS), len(KIND_NAMES))))


def _standardise(images: np.ndarray):
    """uint8 [N, H, W] → float tensor [N, 1, H, W], standardised as the datasets are."""
    import torch

    from pretrain.data.transforms import IMAGE_MEAN, IMAGE_STD

    pixels = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255)
    return pixels.sub_(IMAGE_MEAN).div_(IMAGE_STD).unsqueeze(1)


def _loss(outputs, values, known):
    import torch
    from torch.nn import functional as F

    present = F.binary_cross_entropy_with_logits(outputs[:, 0], values[:, 0])
    total = present
    for head, fn in ((1, F.binary_cross_entropy_with_logits), (2, F.smooth_l1_loss),
                     (3, F.binary_cross_entropy_with_logits)):
        mask = known[:, head]
        if mask.any():
            total = total + fn(outputs[:, head][mask], values[:, head][mask])
    return total if torch.isfinite(total) else present


def training_images(rows: Sequence[ManifestRow], epoch: int, config: CeilingConfig,
                    edits: Sequence[Sequence[Edit]], rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch's images [N, size, size] and targets: each report with a fresh seed, and with
    probability `edit_fraction` one of its edits (chosen by `rng`) in place of its own tags."""
    images = np.empty((len(rows), config.size, config.size), dtype=np.uint8)
    values = np.empty((len(rows), len(HEADS), len(KIND_NAMES)), dtype=np.float32)
    known = np.empty(values.shape, dtype=bool)
    for i, (row, options) in enumerate(zip(rows, edits)):
        seed = seed_for(row.id, 1 + epoch + 1000 * config.seed)
        if options and rng.random() < config.edit_fraction:
            edit = options[int(rng.integers(len(options)))]
            images[i], tags = render_edit(row.tags, edit, seed, config.size), edit.tags
        else:
            images[i], tags = render_phantom(row.tags, seed, config.size).image, row.tags
        values[i], known[i] = tag_targets(tags)
    return images, values, known


def train_ceiling(rows: Sequence[ManifestRow], config: CeilingConfig = CeilingConfig(),
                  on_epoch: Callable[[int, float], None] | None = None):
    """The CNN trained on `rows` (the training split); `on_epoch(epoch, mean loss)`."""
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    steps = config.epochs * -(-len(rows) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=max(steps, 1))
    edits = [tag_edits(row.tags, key=row.id) for row in rows]
    for epoch in range(config.epochs):
        images, values, known = training_images(rows, epoch, config, edits, rng)
        model.train()
        order = rng.permutation(len(rows))
        losses = []
        for start in range(0, len(rows), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss = _loss(model(_standardise(images[batch])), torch.from_numpy(values[batch]),
                         torch.from_numpy(known[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        if on_epoch:
            on_epoch(epoch, float(np.mean(losses)))
    return model.eval()


def predict(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Head outputs [N, 4, K] for uint8 images [N, H, W] (logits; severity on its scale)."""
    import torch

    chunks = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            chunks.append(model(_standardise(images[start:start + batch_size])).numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, len(HEADS), len(KIND_NAMES)))


#: what a classifier that knows nothing gets when it answers pairs this way
UNINFORMED = {"text": 0.25, "image": 0.5, "group": 0.25}
LOGIT_HEADS = (0, 1, 3)          # present, left, lower: a threshold each; severity has none


@dataclass
class Ceiling:
    """The trained CNN, its config, and the decision threshold of each logit head and kind
    ([4, K]; the severity row stays 0)."""

    model: object
    config: CeilingConfig
    thresholds: np.ndarray

    def decisions(self, images: np.ndarray) -> np.ndarray:
        """Head outputs [N, 4, K] for uint8 images, logits shifted so that 0 is the boundary."""
        return predict(self.model, images) - self.thresholds


def calibrate(model, config: CeilingConfig, rows: Sequence[ManifestRow], *, seed: int = 0,
              min_each: int = 5) -> Ceiling:
    """Thresholds of best balanced accuracy (Youden's J) per logit head and kind, on the phantoms
    of `rows` (the validation split) and all their counterfactual images; 0 where either class
    has fewer than `min_each` examples."""
    images, values, known = [], [], []
    for row in rows:
        made = counterfactuals(row.tags, row.id, seed_for(row.id, seed), config.size,
                               max_additions=None)
        for tags, image in [(row.tags, made.original)] + [(e.tags, i) for e, i in made.made]:
            target, mask = tag_targets(tags)
            images.append(image)
            values.append(target)
            known.append(mask)
    thresholds = np.zeros((len(HEADS), len(KIND_NAMES)), dtype=np.float32)
    if images:
        outputs = predict(model, np.stack(images))
        values, known = np.stack(values), np.stack(known)
        for head in LOGIT_HEADS:
            for k in range(len(KIND_NAMES)):
                truth = values[known[:, head, k], head, k]
                if min(truth.sum(), len(truth) - truth.sum()) < min_each:
                    continue
                thresholds[head, k] = balanced_threshold(truth,
                                                         outputs[known[:, head, k], head, k])
    return Ceiling(model, config, thresholds)


def balanced_threshold(truth: np.ndarray, scores: np.ndarray) -> float:
    """The cut of best balanced accuracy (Youden's J) between two observed scores: scores above
    it are called positive."""
    from sklearn.metrics import roc_curve

    fpr, tpr, cuts = roc_curve(truth, scores)
    best = int(np.argmax(tpr - fpr))          # roc_curve: positive when score >= cuts[best]
    below = scores[scores < cuts[best]]
    return float((cuts[best] + below.max()) / 2) if len(below) else float(cuts[best]) - 1.0


def answer(family: str, edit: Mapping, group: str, out_a: np.ndarray, out_b: np.ndarray
           ) -> PairScores | None:
    """The CNN's 2×2 scores for one pair (see the module docstring), from its decisions
    (`Ceiling.decisions`) for image A and image B; None when the edit names no finding and
    attribute the CNN reads."""
    kind, before, after = edit.get("finding"), edit.get("from"), edit.get("to")
    if kind not in _COLUMN:
        return None
    k = _COLUMN[kind]
    offset = 0.0
    if family in ("presence", "device") and {before, after} == {PRESENT, ABSENT}:
        head, sign_a = 0, 1.0 if before == PRESENT else -1.0
    elif family == "laterality" and {before, after} == {"left", "right"}:
        head, sign_a = 1, 1.0 if before == "left" else -1.0
    elif family == "severity" and before in SEVERITY and after in SEVERITY \
            and SEVERITY[before] != SEVERITY[after]:
        head, sign_a = 2, 1.0 if SEVERITY[before] > SEVERITY[after] else -1.0
        offset = (SEVERITY[before] + SEVERITY[after]) / 2
    elif family == "location" and before and after and \
            (before in LOWER_ZONES) != (after in LOWER_ZONES):
        head, sign_a = 3, 1.0 if before in LOWER_ZONES else -1.0
    else:
        return None
    q_a, q_b = float(out_a[head, k]) - offset, float(out_b[head, k]) - offset
    return PairScores(family, group, aa=sign_a * q_a, ab=-sign_a * q_a, ba=sign_a * q_b,
                      bb=-sign_a * q_b)


@dataclass(frozen=True)
class ImagePair:
    """A counterfactual pair without its reports: what the image-only reference needs."""

    report_id: str
    family: str
    edit: dict
    image_a: np.ndarray
    image_b: np.ndarray


def counterfactual_images(rows: Sequence[ManifestRow], size: int, seed: int = 0,
                          max_additions: int | None = 2) -> list[ImagePair]:
    """The image halves of the pairs `build_counterfactual_set` makes of `rows` with the same
    seed, size and `max_additions` (before any edit is declined for its text)."""
    pairs = []
    for row in rows:
        made = counterfactuals(row.tags, row.id, seed_for(row.id, seed), size,
                               max_additions=max_additions)
        pairs += [ImagePair(row.id, edit.family, edit.to_dict(), made.original, image)
                  for edit, image in made.made]
    return pairs


def score_image_pairs(ceiling: Ceiling, pairs: Sequence[ImagePair]) -> list[PairScores]:
    """The CNN's 2×2 scores of every pair it can answer."""
    if not pairs:
        return []
    outputs = ceiling.decisions(np.stack([p.image_a for p in pairs] + [p.image_b for p in pairs]))
    n = len(pairs)
    scored = [answer(p.family, p.edit, p.report_id, outputs[i], outputs[n + i])
              for i, p in enumerate(pairs)]
    return [s for s in scored if s is not None]


def _read_image(path: Path, size: int) -> np.ndarray:
    import torch
    from torch.nn import functional as F

    from pretrain.data.images import load_image

    pixels = torch.from_numpy(load_image(path))[None, None]
    if pixels.shape[-2:] != (size, size):
        pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True)
    return (pixels[0, 0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def score_pairs_file(ceiling: Ceiling, pairs: Sequence[Pair], pairs_file: str | Path
                     ) -> list[PairScores]:
    """The CNN's 2×2 scores of the pairs of a pairs file whose `edit` names a finding and an
    attribute it reads (images resized to the CNN's size)."""
    size = ceiling.config.size
    images = [ImagePair(p.group, p.family, p.edit,
                        _read_image(image_path(pairs_file, p.image_a), size),
                        _read_image(image_path(pairs_file, p.image_b), size)) for p in pairs]
    return score_image_pairs(ceiling, images)


def presence_auroc(model, rows: Sequence[ManifestRow], size: int, seed: int = 0,
                   min_positives: int = 5) -> dict[str, dict]:
    """AUROC of the presence head per kind on the rows' own phantoms (kinds with at least
    `min_positives` positives and one negative)."""
    from sklearn.metrics import roc_auc_score

    images = np.stack([render_phantom(r.tags, seed_for(r.id, seed), size).image for r in rows])
    outputs = predict(model, images)
    truth = np.stack([tag_targets(r.tags)[0][0] for r in rows])
    result = {}
    for kind, k in _COLUMN.items():
        positives = int(truth[:, k].sum())
        if positives >= min_positives and positives < len(rows):
            result[kind] = {"auroc": float(roc_auc_score(truth[:, k], outputs[:, 0, k])),
                            "positives": positives}
    return result


def ceiling_report(ceiling: Ceiling, test_rows: Sequence[ManifestRow], *, seed: int = 0,
                   max_additions: int | None = 2, n_boot: int = 2000) -> dict:
    """Text / image / group scores of the CNN per family and per (family, finding) on the
    counterfactual pairs of `test_rows`, and its presence AUROC on their phantoms."""
    config = ceiling.config
    pairs = counterfactual_images(test_rows, config.size, seed, max_additions)
    scored = score_image_pairs(ceiling, pairs)
    by_finding = {}
    findings = sorted({(p.family, p.edit["finding"]) for p in pairs})
    for family, finding in findings:
        subset = [s for s, p in zip(scored, pairs) if (p.family, p.edit["finding"])
                  == (family, finding)]
        by_finding[f"{family}/{finding}"] = winoground_report(subset, n_boot=n_boot)["overall"]
    return {"config": asdict(config), "seed": seed, "max_additions": max_additions,
            "reports": len(test_rows), "pairs": len(pairs), "answered": len(scored),
            "winoground": winoground_report(scored, n_boot=n_boot), "uninformed": UNINFORMED,
            "per_finding": by_finding,
            "presence_auroc": presence_auroc(ceiling.model, test_rows, config.size, seed)}


def save_ceiling(ceiling: Ceiling, folder: str | Path) -> Path:
    """`folder/ceiling.pt` (weights) and `folder/ceiling.json` (config, kinds, thresholds)."""
    import torch

    from perturb.io.atomic import atomic_open

    folder = Path(folder)
    with atomic_open(folder / "ceiling.pt", "wb") as handle:
        torch.save(ceiling.model.state_dict(), handle)
    with atomic_open(folder / "ceiling.json", "w") as handle:
        json.dump({"config": asdict(ceiling.config), "kinds": list(KIND_NAMES),
                   "heads": list(HEADS), "thresholds": ceiling.thresholds.tolist()},
                  handle, indent=2)
    return folder


def load_ceiling(folder: str | Path) -> Ceiling:
    """The CNN saved by `save_ceiling`, in eval mode; refuses one trained for other kinds."""
    import torch

    folder = Path(folder)
    meta = json.loads((folder / "ceiling.json").read_text(encoding="utf-8"))
    if meta["kinds"] != list(KIND_NAMES) or meta["heads"] != list(HEADS):
        raise ValueError(f"{folder}: the CNN was trained for other finding kinds than the "
                         "renderer has now; train it again")
    config = CeilingConfig(**meta["config"])
    model = build_model(config)
    model.load_state_dict(torch.load(folder / "ceiling.pt", weights_only=True))
    return Ceiling(model.eval(), config, np.asarray(meta["thresholds"], dtype=np.float32))

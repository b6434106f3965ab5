"""Winoground-style scores of image–report pairs that differ in one finding.

A pair is two images and two reports, A describing image A and B image B. With a score
s(image, report):

- text score: each image prefers its own report, s(A, a) > s(A, b) and s(B, b) > s(B, a);
- image score: each report prefers its own image, s(A, a) > s(B, a) and s(B, b) > s(A, b);
- group score: both at once.

Random scores pass them with probability 1/4, 1/4 and 1/6. Ties are wrong. A score that adds a
report-only term to an image-only one, s = f(report) + g(image), passes none of them: the two
conditions of each contradict each other. So report fluency, finding base rates and image priors
all cancel, and only an interaction of image and report earns a point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pretrain.data.pairs import Pair
from pretrain.evaluation.semantic import TIE_TOLERANCE
from pretrain.phantoms.counterfactual import FAMILIES

SCORES = ("text", "image", "group")
CHANCE = {"text": 0.25, "image": 0.25, "group": 1 / 6}


@dataclass(frozen=True)
class PairScores:
    """s(image, report) for one pair: `aa` = s(image A, report a), `ab` = s(image A, report b),
    and so on. `group` is the bootstrap's unit (pairs of one report are resampled together)."""

    family: str
    group: str
    aa: float
    ab: float
    ba: float
    bb: float

    def correct(self, tolerance: float = TIE_TOLERANCE) -> dict[str, bool]:
        """Whether the pair passes each score; a margin within `tolerance` is a tie (wrong)."""
        text = self.aa - self.ab > tolerance and self.bb - self.ba > tolerance
        image = self.aa - self.ba > tolerance and self.bb - self.ab > tolerance
        return {"text": text, "image": image, "group": text and image}


def score_pairs(pairs: Sequence[Pair], score: Callable[[str, str], float]) -> list[PairScores]:
    """The four scores of every pair, `score(image, text)` called with the pair's image names as
    written in the pairs file (resolve them with `pretrain.data.pairs.image_path`)."""
    return [PairScores(p.family, p.group, score(p.image_a, p.text_a), score(p.image_a, p.text_b),
                       score(p.image_b, p.text_a), score(p.image_b, p.text_b)) for p in pairs]


def _bootstrap(correct: np.ndarray, groups: np.ndarray, n_boot: int, seed: int
               ) -> tuple[float, float]:
    """95 % percentile interval of the mean of `correct`, resampling whole groups."""
    _, index = np.unique(groups, return_inverse=True)
    hits = np.bincount(index, weights=correct)
    sizes = np.bincount(index).astype(float)
    draws = np.random.default_rng(seed).integers(0, len(hits), size=(n_boot, len(hits)))
    means = hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _summary(scored: Sequence[PairScores], tolerance: float, n_boot: int, seed: int) -> dict:
    results = [s.correct(tolerance) for s in scored]
    groups = np.array([s.group for s in scored], dtype=object)
    out: dict[str, object] = {"n": len(scored), "groups": len(set(groups.tolist()))}
    for name in SCORES:
        correct = np.array([r[name] for r in results], dtype=float)
        entry = {"score": float(correct.mean()) if len(correct) else float("nan"),
                 "chance": CHANCE[name], "low": float("nan"), "high": float("nan")}
        if len(correct):
            entry["low"], entry["high"] = _bootstrap(correct, groups, n_boot, seed)
        out[name] = entry
    return out


def winoground_report(scored: Sequence[PairScores], *, tolerance: float = TIE_TOLERANCE,
                      n_boot: int = 2000, seed: int = 0) -> dict[str, object]:
    """Text, image and group score (with chance and a bootstrap 95 % interval over reports)
    overall and per family: the counterfactual families in their order, then any other family
    (a user's own) in order of first appearance."""
    seen = list(dict.fromkeys(s.family for s in scored))
    families = [f for f in FAMILIES if f in seen] + [f for f in seen if f not in FAMILIES]
    return {
        "overall": _summary(scored, tolerance, n_boot, seed),
        "per_family": {f: _summary([s for s in scored if s.family == f], tolerance, n_boot, seed)
                       for f in families},
    }

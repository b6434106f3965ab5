"""The clinical semantic-structure test: does the image prefer its report over word-preserving
rewrites of it?

A perturbed report keeps every word of the original, so a model that only matches words ties the
two; only a model that reads order and structure can score the original strictly highest. Ties
therefore count as wrong, and similarities closer than `TIE_TOLERANCE` are ties (batched encoding
adds float noise of about 1e-7 to texts that a bag-of-words model embeds identically).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import perturb
from perturb import ParsedReport

#: The four kinds of the paper's zero-shot table (chance 20%).
ZERO_SHOT_KINDS = (
    "shuffle_nouns_and_adj",
    "shuffle_allbut_nouns_and_adj",
    "shuffle_within_trigrams",
    "shuffle_trigrams",
)
TIE_TOLERANCE = 1e-6


def evaluated_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds whose negatives an evaluation makes: the paper's nine (the "all nine" setting
    needs every one of them), then any other of `kinds` (scored each alone)."""
    return tuple(dict.fromkeys([*perturb.PAPER_KINDS, *kinds]))


@dataclass(frozen=True)
class CandidateSet:
    """A report and its negatives: one per kind that applies to it (kinds that leave the text
    unchanged are left out)."""

    id: str
    original: str
    negatives: dict[str, str]


@dataclass(frozen=True)
class ScoredReport:
    """Image–text similarity of the original and of each negative, by kind."""

    original: float
    negatives: dict[str, float]


@dataclass(frozen=True)
class SettingResult:
    """Accuracy over reports with at least one applicable kind of the setting; `chance` is the
    mean of 1/(1 + applicable negatives) over the same reports; `ties` counts reports whose
    original tied its best negative (a model blind to word order ties every one)."""

    kinds: tuple[str, ...]
    accuracy: float
    chance: float
    n: int
    n_skipped: int
    ties: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "kinds": list(self.kinds),
            "accuracy": self.accuracy,
            "chance": self.chance,
            "n": self.n,
            "n_skipped": self.n_skipped,
            "ties": self.ties,
        }


def parse_reports(
    records: Sequence[tuple[str, str]], parse_cache: str | Path | None = None
) -> tuple[list[ParsedReport], int]:
    """Parses of (id, text) records, from the parse cache where it holds the same text, else from
    `perturb.Parser`. Returns the parses and how many came from the cache."""
    parsed: list[ParsedReport | None] = [None] * len(records)
    if parse_cache is not None:
        from perturb.cache import ParseCache

        cache = ParseCache.load(parse_cache)
        parsed = [cache.get(key, text=text) for key, text in records]
    missing = [i for i, p in enumerate(parsed) if p is None]
    if missing:
        parser = perturb.Parser()
        texts = (records[i][1] for i in missing)
        for i, report in zip(missing, parser.parse_many(texts)):
            parsed[i] = report
    return [p for p in parsed if p is not None], len(records) - len(missing)


def make_candidates(
    report_id: str, report: ParsedReport, kinds: Iterable[str], *, seed: int
) -> CandidateSet:
    """The original and one negative per applicable kind, keyed by the record id so that two
    records sharing a text still get their own (reproducible) negatives."""
    negatives = {}
    for kind in kinds:
        result = perturb.apply(report, kind, seed=seed, key=report_id)
        if result.applicable:
            negatives[kind] = result.text
    return CandidateSet(report_id, report.text, negatives)


def embed_candidates(
    sets: Sequence[CandidateSet], embed_texts: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """Embeddings of every text of `sets` (each original, then its negatives) in one call of
    `embed_texts` (texts → L2-normalised embeddings), so that several image sets can be scored
    against them without encoding the texts again."""
    texts: list[str] = []
    for s in sets:
        texts.append(s.original)
        texts.extend(s.negatives.values())
    return np.asarray(embed_texts(texts), dtype=np.float64)


def score_candidates(
    image_embeddings: np.ndarray, sets: Sequence[CandidateSet], text_embeddings: np.ndarray
) -> list[ScoredReport]:
    """Cosine similarity between image i and every text of `sets[i]`, the texts embedded by
    `embed_candidates`."""
    if len(image_embeddings) != len(sets):
        raise ValueError(f"{len(image_embeddings)} images but {len(sets)} candidate sets")
    scored = []
    row = 0
    for image, s in zip(np.asarray(image_embeddings, dtype=np.float64), sets):
        sims = text_embeddings[row : row + 1 + len(s.negatives)] @ image
        row += 1 + len(s.negatives)
        scored.append(ScoredReport(float(sims[0]), dict(zip(s.negatives, map(float, sims[1:])))))
    return scored


def score_text_only(
    image_embedding: np.ndarray, sets: Sequence[CandidateSet], text_embeddings: np.ndarray
) -> list[ScoredReport]:
    """Every set scored against one and the same image: the text-only control. That image tells
    no report from another, so any accuracy above chance here is a preference of the text
    encoder (e.g. for fluent over scrambled reports), not image–report grounding."""
    images = np.repeat(np.asarray(image_embedding, dtype=np.float64)[None], len(sets), axis=0)
    return score_candidates(images, sets, text_embeddings)


def setting_accuracy(
    scored: Sequence[ScoredReport], kinds: Iterable[str], *, tie_tolerance: float = TIE_TOLERANCE
) -> SettingResult:
    """Share of reports whose original beats every applicable negative of `kinds` by more than
    `tie_tolerance`. Reports to which no kind of the setting applies are skipped and counted."""
    kinds = tuple(kinds)
    wins: list[bool] = []
    chances: list[float] = []
    ties = 0
    for report in scored:
        rivals = [report.negatives[k] for k in kinds if k in report.negatives]
        if not rivals:
            continue
        margin = report.original - max(rivals)
        wins.append(margin > tie_tolerance)
        ties += abs(margin) <= tie_tolerance
        chances.append(1.0 / (1 + len(rivals)))
    n = len(wins)
    return SettingResult(
        kinds=kinds,
        accuracy=float(np.mean(wins)) if n else float("nan"),
        chance=float(np.mean(chances)) if n else float("nan"),
        n=n,
        n_skipped=len(scored) - n,
        ties=ties,
    )


def semantic_report(
    scored: Sequence[ScoredReport],
    kinds: Sequence[str],
    zero_shot_kinds: Sequence[str] = ZERO_SHOT_KINDS,
    all_nine: Sequence[str] = perturb.PAPER_KINDS,
) -> dict[str, object]:
    """The paper's four-kind setting ("paper"), its all-nine setting ("all": exactly the paper's
    nine, whatever else is registered or scored), and each of `kinds` alone against the original
    (chance 50%)."""
    return {
        "paper": setting_accuracy(scored, zero_shot_kinds).to_dict(),
        "all": setting_accuracy(scored, all_nine).to_dict(),
        "per_kind": {k: setting_accuracy(scored, [k]).to_dict() for k in kinds},
    }

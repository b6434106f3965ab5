"""Image↔report retrieval: Recall@k from a similarity matrix.

Open-I repeats many reports word for word ("No acute cardiopulmonary abnormality."), so retrieving
an identical report is a hit: items sharing a group (the report text) count as matches. Ties are
resolved against the query — a non-match scoring equal to the best match ranks ahead of it — so
a model that cannot tell items apart gets no credit for the order they happen to be stored in.

Templated reports still make exact-report recall a coin toss among differently worded reports of
the same findings (a third of Open-I is tagged `normal` alone). The tag-set recall counts a
retrieved report as a hit when its MeSH tag set equals the query's: what an image can show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10)


def _matches(
    shape: tuple[int, int], query_groups: Sequence[object] | None, target_groups: Sequence[object] | None
) -> np.ndarray:
    """Boolean [queries, targets]: which targets count as a hit for each query."""
    n_queries, n_targets = shape
    if query_groups is None or target_groups is None:
        if n_queries != n_targets:
            raise ValueError(f"without groups the similarity must be square, got {shape}")
        match = np.eye(n_queries, dtype=bool)
    else:
        if len(query_groups) != n_queries or len(target_groups) != n_targets:
            raise ValueError("group lengths do not match the similarity matrix")
        codes: dict[object, int] = {}
        q = np.array([codes.setdefault(g, len(codes)) for g in query_groups])
        t = np.array([codes.setdefault(g, len(codes)) for g in target_groups])
        match = q[:, None] == t[None, :]
    if not match.any(axis=1).all():
        raise ValueError("every query needs at least one matching target")
    return match


def recall_at_k(
    similarity: np.ndarray,
    ks: Sequence[int] = DEFAULT_KS,
    query_groups: Sequence[object] | None = None,
    target_groups: Sequence[object] | None = None,
) -> dict[str, float]:
    """Recall@k for queries (rows) over targets (columns). Without groups, query i matches target i
    only (a square matrix is required); with groups, every target of the query's group matches."""
    sim = np.asarray(similarity, dtype=np.float64)
    match = _matches(sim.shape, query_groups, target_groups)
    best_match = np.where(match, sim, -np.inf).max(axis=1)
    rank = (np.where(match, -np.inf, sim) >= best_match[:, None]).sum(axis=1)
    return {f"R@{k}": float(np.mean(rank < k)) for k in ks}


def chance_recall_at_k(
    shape: tuple[int, int],
    ks: Sequence[int] = DEFAULT_KS,
    query_groups: Sequence[object] | None = None,
    target_groups: Sequence[object] | None = None,
) -> dict[str, float]:
    """Recall@k of a random ranking: a query with m matches among n targets misses the top k
    with probability C(n−m, k) / C(n, k) (more duplicates, higher chance)."""
    n_targets = shape[1]
    m = _matches(shape, query_groups, target_groups).sum(axis=1)
    out = {}
    for k in ks:
        miss = np.ones(len(m))
        for i in range(min(k, n_targets)):
            miss *= np.clip(n_targets - m - i, 0, None) / (n_targets - i)
        out[f"R@{k}"] = float(np.mean(1 - miss))
    return out


def retrieval_report(
    image_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    texts: Sequence[str],
    ks: Sequence[int] = DEFAULT_KS,
    tags: Sequence[Iterable[str]] | None = None,
) -> dict[str, object]:
    """Image→report and report→image Recall@k on paired, L2-normalised embeddings, and the
    Recall@k of a random ranking (the same in both directions: the match matrix is symmetric).
    With `tags` (one tag list per pair), `tag_set` holds the same three with a hit being any pair
    of the query's tag set."""
    sim = np.asarray(image_embeddings, dtype=np.float64) @ np.asarray(text_embeddings, np.float64).T
    report: dict[str, object] = _directions(sim, ks, list(texts))
    if tags is not None:
        report["tag_set"] = _directions(sim, ks, [frozenset(t) for t in tags])
    return {**report, "n": len(texts)}


def _directions(sim: np.ndarray, ks: Sequence[int], groups: Sequence[object]) -> dict[str, dict[str, float]]:
    return {
        "image_to_report": recall_at_k(sim, ks, groups, groups),
        "report_to_image": recall_at_k(sim.T, ks, groups, groups),
        "chance": chance_recall_at_k(sim.shape, ks, groups, groups),
    }

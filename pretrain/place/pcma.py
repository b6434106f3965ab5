"""Pathology-level cross-modal alignment (PCMA): match each pair's visual observations (V-PORs,
[B, Q, D]) to its textual ones (T-PORs, [B, T, D]), then contrast the matched pairs against the batch.

**Matching** — entropic optimal transport with a dustbin, solved by log-domain Sinkhorn
iterations (SuperGlue's dustbin; Cuturi's Sinkhorn). For pair b with T_b real observations and
cosine similarities S[q, t] = v_q · τ_t, the plan P ≥ 0 of shape [Q, T_b + 1] maximises
⟨P, S̄⟩ + ε·H(P) under the marginals

    Σ_t P[q, t] = 1                           every query gives one unit of mass,
    Σ_q P[q, t] = ν_b = min(1, Q / T_b)       every observation receives ν_b (one query's worth),
    Σ_q P[q, ∅] = max(0, Q − T_b)             the queries no observation needs go to the dustbin ∅,

where S̄ is S with a dustbin column of zeros (with the marginals fixed, the dustbin's score would
cancel out whatever its value, so it needs no parameter). Why OT and not a softmax over queries:
a softmax lets every observation pick the same query — one query becomes a global image vector
and the alignment is global again; the marginals forbid that, and the dustbin lets the queries a
report has no observation for stay out of the match instead of being forced onto one. The plan is
computed without gradient — a choice of correspondence, as DETR's Hungarian match is; the loss
then moves the features, not the assignment.

**Contrast** — each real observation n = (b, t) gets the matched visual
v̂_n = normalise(Σ_q P[q, t]·v_q / ν_b). Over the N real observations of the batch,
L = (CE(s·V̂·Tᵀ, diag) + CE(s·T·V̂ᵀ, diag)) / 2 with s = exp(log_scale) (clamped as CLIP's).
The negatives of n are every other observation of the batch, those of its own report included:
a matched visual must tell "effusion" from "cardiomegaly" in the same image, not just one image
from another. Two observations with the same text (`keys`, e.g. "No pneumothorax." in two reports)
are never each other's negatives: their logits are masked out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pretrain.model.losses import _full, logit_scale

#: Entropic regularisation on cosine similarities and the iteration count: docs/place.md.
EPSILON = 0.1
ITERATIONS = 50


def observation_plan(
    similarity: torch.Tensor, mask: torch.Tensor, *, epsilon: float = EPSILON, iterations: int = ITERATIONS
) -> torch.Tensor:
    """The transport plan [B, Q, T + 1] (last column the dustbin) from cosine similarities
    `similarity` [B, Q, T] and the observation mask [B, T]; padded columns receive no mass.
    Computed without gradient, in at least float32 (log domain: no overflow at small ε)."""
    with torch.no_grad():
        b, q, t = similarity.shape
        sim = _full(similarity.detach())
        real = mask.to(sim.dtype).sum(dim=1, keepdim=True)  # T_b
        share = (q / real.clamp_min(1)).clamp(max=1.0)  # ν_b
        dustbin = (q - real).clamp_min(0)
        column_mass = torch.cat([share.expand(b, t) * mask.to(sim.dtype), dustbin], dim=1)
        log_b = column_mass.log()  # -inf where a column takes no mass
        scores = torch.cat([sim, sim.new_zeros(b, q, 1)], dim=2) / epsilon
        f = sim.new_zeros(b, q)
        g = torch.where(column_mass > 0, 0.0, float("-inf")).to(sim.dtype)  # columns without mass stay out
        for _ in range(iterations):
            f = -torch.logsumexp(scores + g[:, None, :], dim=2)  # log 1 − LSE: rows sum to 1
            g = log_b - torch.logsumexp(scores + f[:, :, None], dim=1)
        return (scores + f[:, :, None] + g[:, None, :]).exp().to(similarity.dtype)


def matched_visual(visual: torch.Tensor, plan: torch.Tensor) -> torch.Tensor:
    """[B, T, D]: each observation's matched visual, the plan-weighted mean of the queries
    (normalised); at padded columns the zero vector."""
    weights = plan[:, :, :-1]
    mass = weights.sum(dim=1)  # ν_b at real columns, 0 at padding
    mean = torch.einsum("bqt,bqd->btd", weights, visual) / mass.clamp_min(1e-12)[..., None]
    return F.normalize(mean, dim=-1)


def pcma_loss(
    visual: torch.Tensor,
    text: torch.Tensor,
    mask: torch.Tensor,
    log_scale: torch.Tensor,
    *,
    keys: torch.Tensor | None = None,
    epsilon: float = EPSILON,
    iterations: int = ITERATIONS,
) -> torch.Tensor:
    """The PCMA loss (module docstring). visual [B, Q, D], text [B, T, D], both L2-normalised;
    mask [B, T] bool (True for real observations; at least one in the batch); log_scale: scalar,
    this loss's log(1/temperature); keys [B, T] long: the text id of each observation, equal ids
    never negatives of each other (None: every other observation is a negative)."""
    if not bool(mask.any()):
        raise ValueError("pcma_loss: the batch holds no observation")
    similarity = torch.einsum("bqd,btd->bqt", visual, text)
    plan = observation_plan(similarity, mask, epsilon=epsilon, iterations=iterations)
    matched = matched_visual(visual, plan)[mask]  # [N, D]
    observed = text[mask]
    logits = _full(logit_scale(log_scale) * matched @ observed.T)
    if keys is not None:
        flat = keys[mask]
        same_text = flat[:, None] == flat[None, :]
        same_text.fill_diagonal_(False)
        logits = logits.masked_fill(same_text, float("-inf"))
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2

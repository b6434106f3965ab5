"""The three pretraining losses: L = L_global + α·L_local + β·L_pert.

Each is a standalone function of feature tensors, written as batched tensor operations (no Python
loop over samples or tokens) so that it costs little next to the encoders. `tests/test_losses.py`
checks each one against a slow loop that follows the published definitions line by line.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from pretrain.train.distributed import gather_with_grad

#: CLIP's bound on a learnable logit scale (a temperature no lower than 0.01).
MAX_LOGIT_SCALE = math.log(100.0)
#: Initial temperature of the learnable ones (CLIP, GLoRIA).
INIT_TEMPERATURE = 0.07


def _full(x: torch.Tensor) -> torch.Tensor:
    """Softmax-bound values in at least fp32 (bf16 autocast would round the logits)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def logit_scale(log_scale: torch.Tensor) -> torch.Tensor:
    """exp of the learnable log-scale, clamped so that the temperature never drops below 0.01."""
    return log_scale.clamp(0.0, MAX_LOGIT_SCALE).exp()


def global_loss(
    image: torch.Tensor, text: torch.Tensor, log_scale: torch.Tensor, *, gather: bool = True
) -> torch.Tensor:
    """Symmetric InfoNCE between matching image and report embeddings (CLIP's loss).

    image, text: [B, D] L2-normalised; row i of each is a pair. log_scale: scalar, log(1/temperature).
    Under torch.distributed (and `gather`), the other ranks' features join as negatives: they are
    gathered with autograd, each rank scores its own B rows against all B·world columns, and DDP's
    mean over ranks then yields exactly the gradient of one process on the whole batch.
    Returns a scalar: (CE(image→text) + CE(text→image)) / 2.
    """
    offset = 0
    all_image, all_text = image, text
    if gather:
        all_image, offset = gather_with_grad(image)
        all_text, _ = gather_with_grad(text)
    scale = logit_scale(log_scale)
    targets = torch.arange(offset, offset + image.shape[0], device=image.device)
    logits_i2t = scale * image @ all_text.T
    logits_t2i = scale * text @ all_image.T
    return (F.cross_entropy(_full(logits_i2t), targets) + F.cross_entropy(_full(logits_t2i), targets)) / 2


def perturbation_loss(
    image: torch.Tensor, texts: torch.Tensor, valid: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """Perturbed-report discrimination: each image must pick its original report among its own
    1+K variants (column 0 is the original).

    image: [B, D], texts: [B, 1+K, D] (both L2-normalised), valid: [B, 1+K] bool (column 0 True;
    False for a negative that could not be made or duplicates another text — it is masked out,
    never scored). log_scale: scalar, this loss's own log(1/temperature).
    Returns the mean over images of CE(logits, 0); an image with no valid negative adds 0.
    """
    if not bool(valid[:, 0].all()):
        raise ValueError("perturbation_loss: column 0 (the original report) must be valid")
    logits = logit_scale(log_scale) * torch.einsum("bd,bkd->bk", image, texts)
    logits = _full(logits).masked_fill(~valid, float("-inf"))
    targets = torch.zeros(image.shape[0], dtype=torch.long, device=image.device)
    return F.cross_entropy(logits, targets)


def perturbation_accuracy(image: torch.Tensor, texts: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Fraction of images whose original report scores above every valid negative (a metric)."""
    scores = _full(torch.einsum("bd,bkd->bk", image, texts)).masked_fill(~valid, float("-inf"))
    if scores.shape[1] == 1:
        return scores.new_ones(())
    return (scores[:, 1:].max(dim=1).values < scores[:, 0]).float().mean()


def local_attention(sim: torch.Tensor, word_mask: torch.Tensor, temp1: float) -> torch.Tensor:
    """GLoRIA's word→region attention from word–region similarities `sim` [..., W, R]: a softmax
    across words (padding `word_mask` [..., W] masked out), then one across regions sharpened by
    `temp1`. Shared by the local loss and `radperturb explain`, so the heatmaps show what the loss
    uses."""
    attn = sim.masked_fill(~word_mask[..., None], float("-inf")).softmax(dim=-2)
    return (temp1 * attn).softmax(dim=-1)


def _local_scores(
    words: torch.Tensor,
    word_mask: torch.Tensor,
    regions: torch.Tensor,
    gram: torch.Tensor,
    temp1: float,
    temp2: float,
) -> torch.Tensor:
    """GLoRIA's word-level matching score for text rows `words` [T, W, D] against every image
    `regions` [B, R, D]; `gram` [B, R, R] = regions·regionsᵀ. Returns [T, B]: log Σ_w exp(temp2·cos).

    The attended context c = Σ_r a_r·v_r is never materialised: w·c = Σ_r a_r (w·v_r) reuses the
    similarities and |c|² = aᵀ G a, so memory is [T, B, W, R] rather than [T, B, W, D].
    """
    t, w_len, d = words.shape
    b, r, _ = regions.shape
    sim = (words.reshape(t * w_len, d) @ regions.reshape(b * r, d).T).view(t, w_len, b, r)
    sim = _full(sim.permute(0, 2, 1, 3))  # [T, B, W, R]
    attn = local_attention(sim, word_mask[:, None, :], temp1)  # [T, B, W, R]
    dot = (attn * sim).sum(dim=3)  # w · c
    norm_sq = (torch.einsum("tbwr,brs->tbws", attn, _full(gram)) * attn).sum(dim=3)
    word_norm = _full(words).norm(dim=2)[:, None, :]  # [T, 1, W]
    cos = dot / (word_norm * norm_sq.clamp_min(0).sqrt()).clamp_min(1e-8)
    cos = cos.masked_fill(~word_mask[:, None, :], float("-inf"))
    return torch.logsumexp(temp2 * cos, dim=2)


def local_loss(
    regions: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    *,
    temp1: float = 4.0,
    temp2: float = 5.0,
    temp3: float = 10.0,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """GLoRIA's attentive local loss over all B×B image–report pairs.

    regions: [B, R, D] image sub-region features; words: [B, W, D] word features; word_mask: [B, W]
    bool (False for padding; every report needs at least one word). For the pair (image j,
    report i), each word attends over regions (a softmax across words, then temp1 × that, softmax
    across regions), the word is compared with its attended context by cosine, and the pair scores
    S[j, i] = temp3 · log Σ_w exp(temp2 · cos). Returns (CE(S, diag) + CE(Sᵀ, diag)) / 2 — the
    mean of both directions (the published code's `loss0 + loss1 / 2` halves only one).

    Text rows are processed `chunk_size` at a time, each chunk recomputed in the backward pass, so
    memory stays O(chunk·B·W·R) whatever the batch; None picks a chunk of ≈2²⁶ attention entries.
    """
    if not bool(word_mask.any(dim=1).all()):
        raise ValueError("local_loss: every report needs at least one word")
    b, w_len = word_mask.shape
    r = regions.shape[1]
    if chunk_size is None:
        chunk_size = max(1, (1 << 26) // max(1, b * w_len * r))
    gram = regions @ regions.transpose(1, 2)
    chunks = []
    for start in range(0, b, chunk_size):
        args = (words[start : start + chunk_size], word_mask[start : start + chunk_size], regions, gram)
        if torch.is_grad_enabled() and chunk_size < b:
            chunks.append(checkpoint(_local_scores, *args, temp1, temp2, use_reentrant=False))
        else:
            chunks.append(_local_scores(*args, temp1, temp2))
    scores = temp3 * torch.cat(chunks, dim=0).T  # [B images, B reports]
    targets = torch.arange(b, device=scores.device)
    return (F.cross_entropy(scores, targets) + F.cross_entropy(scores.T, targets)) / 2

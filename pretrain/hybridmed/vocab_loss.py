"""Vocabulary cross-entropy and distillation in bounded memory.

Logits of an impression batch are [tokens, V] with V = 30,522 for the BERT vocabulary: 64
impressions of 100 tokens already hold 195 M floats (0.8 GB in fp32, twice that with their
gradient). Both losses here take hidden states instead, keep only the scored positions (padding
dropped first) and project `chunk_tokens` positions at a time, each chunk recomputed in the
backward pass (activation checkpointing), so memory is O(chunk_tokens · V) whatever the batch
and length. The value and gradients equal those of the plain computation (tests check both).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from pretrain.hybridmed.decoder import IGNORE_INDEX

#: Positions projected onto the vocabulary at once: 1024 × 30,522 fp32 logits ≈ 125 MB.
CHUNK_TOKENS = 1024


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    logits = hidden @ weight.T
    logits = logits if bias is None else logits + bias
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def _ce_sum(hidden: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return F.cross_entropy(_logits(hidden, weight, bias), targets, reduction="sum")


def _kl_sum(
    student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    log_student = F.log_softmax(_logits(student, weight, bias) / temperature, dim=-1)
    with torch.no_grad():  # the teacher's distribution is a target: no gradient reaches it
        log_teacher = F.log_softmax(_logits(teacher, weight, bias) / temperature, dim=-1)
    return F.kl_div(log_student, log_teacher, log_target=True, reduction="sum")


def _chunked_sum(fn, chunk_tokens: int, tensors: tuple[torch.Tensor, ...], *constants) -> torch.Tensor:
    """Σ over chunks of fn(*chunk of each tensor, *constants); chunks recomputed in backward."""
    n = tensors[0].shape[0]
    chunk_tokens = max(1, int(chunk_tokens))
    recompute = torch.is_grad_enabled() and n > chunk_tokens
    total = tensors[0].new_zeros((), dtype=torch.float32)
    for start in range(0, n, chunk_tokens):
        parts = [t[start : start + chunk_tokens] for t in tensors]
        if recompute:
            total = total + checkpoint(fn, *parts, *constants, use_reentrant=False)
        else:
            total = total + fn(*parts, *constants)
    return total


def _scored(targets: torch.Tensor) -> torch.Tensor:
    return (targets.reshape(-1) != IGNORE_INDEX).nonzero().squeeze(1)


def token_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    *,
    chunk_tokens: int = CHUNK_TOKENS,
) -> torch.Tensor:
    """Mean cross-entropy over the scored tokens (targets != IGNORE_INDEX) of
    softmax(hidden @ weightᵀ + bias). hidden [N, T, dim], weight [V, dim], bias [V] or None,
    targets [N, T]. Returns 0 (still attached to `hidden`) when no token is scored."""
    index = _scored(targets)
    if not index.numel():
        return hidden.sum() * 0.0
    flat = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
    total = _chunked_sum(_ce_sum, chunk_tokens, (flat, targets.reshape(-1).index_select(0, index)), weight, bias)
    return total / index.numel()


def token_distillation(
    student_hidden: torch.Tensor,
    teacher_hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    *,
    temperature: float,
    chunk_tokens: int = CHUNK_TOKENS,
) -> torch.Tensor:
    """Hinton's distillation per token: T² · KL(softmax(teacher/T) ‖ softmax(student/T)),
    averaged over the scored tokens (targets != IGNORE_INDEX). The teacher's logits are
    computed without gradient; the T² keeps the gradient's size independent of T. hidden
    [N, T, dim] each (the same teacher-forced inputs), weight [V, dim] the shared output
    projection."""
    if temperature <= 0:
        raise ValueError(f"distillation temperature must be > 0, got {temperature}")
    index = _scored(targets)
    if not index.numel():
        return student_hidden.sum() * 0.0
    dim = student_hidden.shape[-1]
    student = student_hidden.reshape(-1, dim).index_select(0, index)
    teacher = teacher_hidden.detach().reshape(-1, dim).index_select(0, index)
    total = _chunked_sum(_kl_sum, chunk_tokens, (student, teacher), weight, bias, float(temperature))
    return total * temperature**2 / index.numel()

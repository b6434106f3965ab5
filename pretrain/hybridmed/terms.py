"""The five HybridMED loss terms as functions of features, decoder states and row masks:
L = λ_CG·L_CG + λ_CL·L_CL + λ_Sum·L_Sum + λ_Cap·L_Cap + λ_Dis·L_Dis.

The alignment terms reuse the house losses unchanged: L_CG is `global_loss` (symmetric InfoNCE)
between the global image feature and the IMPRESSION's, L_CL is GLoRIA's `local_loss` between
image regions and the FINDINGS' words — the token-level alignment the paper asks for, which the
local loss already is. L_Cap and L_Sum are teacher-forced cross-entropy of the impression from
the captioning and summarisation branches; L_Dis distils summarisation into captioning.

Each term takes full-batch tensors and `rows` (bool [B], from `sections.term_rows`): the records
it may score. It returns a `TermValue`: a term that can score nothing returns an exact zero that
is still attached to its inputs, so every parameter takes part in every step (DDP requires it)
while the value adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pretrain.hybridmed.decoder import ImpressionDecoder
from pretrain.hybridmed.sections import MIN_PAIRS
from pretrain.hybridmed.vocab_loss import CHUNK_TOKENS, token_cross_entropy, token_distillation
from pretrain.model.losses import global_loss, local_loss


@dataclass(frozen=True)
class TermValue:
    """loss: scalar tensor; used: records it scored (0 when it was skipped)."""

    loss: torch.Tensor
    used: int


def _index(rows: torch.Tensor, device: torch.device) -> torch.Tensor:
    return rows.bool().nonzero().squeeze(1).to(device)


def _zero(*tensors: torch.Tensor) -> torch.Tensor:
    return sum(t.sum() * 0.0 for t in tensors)


def impression_global_term(
    image_global: torch.Tensor,
    impression_global: torch.Tensor,
    rows: torch.Tensor,
    log_scale: torch.Tensor,
    *,
    gather: bool = True,
) -> TermValue:
    """L_CG: InfoNCE between image_global [B, D] and impression_global [B, D] (both
    L2-normalised) over the records with an impression. Under DDP `global_loss` gathers
    features, which needs the same number of rows on every rank: pass gather=False unless
    every record has an impression (see docs/hybridmed.md)."""
    index = _index(rows, image_global.device)
    if index.numel() < MIN_PAIRS:
        return TermValue(_zero(image_global, impression_global, log_scale), 0)
    loss = global_loss(image_global[index], impression_global[index], log_scale, gather=gather)
    return TermValue(loss, index.numel())


def findings_local_term(
    image_local: torch.Tensor,
    findings_words: torch.Tensor,
    findings_word_mask: torch.Tensor,
    rows: torch.Tensor,
    *,
    temp1: float = 4.0,
    temp2: float = 5.0,
    temp3: float = 10.0,
) -> TermValue:
    """L_CL: GLoRIA's attentive word–region loss between image_local [B, R, D] and the
    findings' words [B, W, D] (word_mask [B, W]) over the records with findings."""
    index = _index(rows, image_local.device)
    if index.numel() < MIN_PAIRS:
        return TermValue(_zero(image_local, findings_words), 0)
    loss = local_loss(image_local[index], findings_words[index], findings_word_mask[index],
                      temp1=temp1, temp2=temp2, temp3=temp3)
    return TermValue(loss, index.numel())


def generation_term(
    decoder: ImpressionDecoder,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    rows: torch.Tensor,
    *,
    chunk_tokens: int = CHUNK_TOKENS,
) -> TermValue:
    """L_Cap or L_Sum: mean token cross-entropy of the impression `targets` [B, T] (from
    `teacher_forcing`) given one branch's hidden states [B, T, dim] (`decoder.hidden`)."""
    index = _index(rows, hidden.device)
    if not index.numel():
        return TermValue(_zero(hidden), 0)
    loss = token_cross_entropy(hidden[index], decoder.output_weight, decoder.output_bias, targets[index],
                               chunk_tokens=chunk_tokens)
    return TermValue(loss, index.numel())


def teacher_hidden(
    decoder: ImpressionDecoder,
    inputs: torch.Tensor,
    findings_memory: torch.Tensor,
    findings_mask: torch.Tensor | None,
) -> torch.Tensor:
    """The summarisation branch's hidden states as distillation targets: no gradient, and
    dropout off (the teacher's distribution is the frozen function, not a noisy sample of it)."""
    was_training = decoder.training
    decoder.eval()
    try:
        with torch.no_grad():
            return decoder.hidden("summary", inputs, findings_memory.detach(), findings_mask)
    finally:
        decoder.train(was_training)


def distillation_term(
    decoder: ImpressionDecoder,
    caption_hidden: torch.Tensor,
    summary_hidden: torch.Tensor,
    targets: torch.Tensor,
    rows: torch.Tensor,
    *,
    temperature: float,
    chunk_tokens: int = CHUNK_TOKENS,
) -> TermValue:
    """L_Dis: T²·KL(summarisation ‖ captioning) of the temperature-softened next-token
    distributions at every impression token under teacher forcing (both branches fed the same
    reference prefix), over the records with findings and impression. `summary_hidden` comes
    from `teacher_hidden`; no gradient reaches it."""
    index = _index(rows, caption_hidden.device)
    if not index.numel():
        return TermValue(_zero(caption_hidden), 0)
    loss = token_distillation(caption_hidden[index], summary_hidden[index], decoder.output_weight,
                              decoder.output_bias, targets[index], temperature=temperature,
                              chunk_tokens=chunk_tokens)
    return TermValue(loss, index.numel())

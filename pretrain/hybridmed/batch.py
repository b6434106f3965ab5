"""The sections of each record as the HybridMED terms read them, added to every training batch
by the collator (`LossTerm.collate`) in the DataLoader workers, and encoded once per batch by
the model's text encoder however many terms read them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from pretrain.model.text import tokenize_reports

#: The batch entries `SectionTokens` adds.
SECTION_KEYS = ("findings_input_ids", "findings_attention_mask", "findings_word_ids", "impression_input_ids",
                "impression_attention_mask", "has_findings", "has_impression")


@dataclass(frozen=True)
class SectionTokens:
    """Collate part: findings and impression tokenized apart, [B, L] each (a missing section is
    the empty text, [CLS][SEP]), and `has_findings` / `has_impression` [B] bool. Frozen, so the
    five terms' equal parts are one part of the collator."""

    max_length: int

    def __call__(self, items: Sequence[dict[str, Any]], reports, tokenizer) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for section in ("findings", "impression"):
            texts = [str(item.get(section) or "") for item in items]
            encoded = tokenize_reports(tokenizer, texts, self.max_length)
            for name, tensor in encoded.items():
                out[f"{section}_{name}"] = tensor
            out[f"has_{section}"] = torch.tensor([bool(t.strip()) for t in texts], dtype=torch.bool)
        del out["impression_word_ids"]
        return out


def encoded_section(model, batch: Mapping[str, Any], section: str) -> torch.Tensor:
    """The text encoder's token features [B, L, H] of one section, computed once per batch: the
    batch dict (a fresh one every micro-batch) keeps them for the other terms."""
    memo = batch.setdefault("_encoded_sections", {})  # type: ignore[union-attr]
    if section not in memo:
        memo[section] = model.text_encoder(batch[f"{section}_input_ids"], batch[f"{section}_attention_mask"])
    return memo[section]


def caption_hidden(model, batch: Mapping[str, Any], features: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The captioning branch's hidden states under teacher forcing, computed once per batch
    (L_Cap and L_Dis both read them)."""
    from pretrain.hybridmed.decoder import teacher_forcing

    memo = batch.setdefault("_encoded_sections", {})  # type: ignore[union-attr]
    if "caption" not in memo:
        inputs, _ = teacher_forcing(batch["impression_input_ids"], batch["impression_attention_mask"])
        memo["caption"] = model.decoder.hidden("caption", inputs, features["image_regions"])
    return memo["caption"]

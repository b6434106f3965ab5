"""The image–report model: two transformers encoders and their projection heads into one space.
(The loss terms own their temperatures: `pretrain.train.terms`.)

Word features sum each word's sub-word pieces (GLoRIA), gathered with one `index_add` from the
tokenizer's word ids — no Python loop over samples or tokens, and the word index comes from the
token's position in the text, not from `token_type_ids` (the published code's mix-up).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.model.encoders import ImageEncoder, TextEncoder
from pretrain.place.vpoe import VisualObservationExtractor

#: What `PretrainModel.forward` returns: always; with `need_local`; with `need_raw` (before the heads).
GLOBAL_FEATURES = frozenset({"image_global", "text_global"})
LOCAL_FEATURES = frozenset({"image_local", "words", "word_mask"})
RAW_FEATURES = frozenset({"image_regions", "text_tokens"})
FEATURES = GLOBAL_FEATURES | LOCAL_FEATURES | RAW_FEATURES


def pool_words(tokens: torch.Tensor, word_ids: torch.Tensor, n_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum sub-word token features into word features.

    tokens: [N, L, H]; word_ids: [N, L] word index per token, -1 for special/pad tokens.
    Returns words [N, n_words, H] and word_mask [N, n_words] (True where the word has a token).
    """
    n, length, dim = tokens.shape
    real = word_ids >= 0
    slot = (word_ids.clamp_min(0) + n_words * torch.arange(n, device=tokens.device)[:, None]).reshape(-1)
    picked = (tokens * real[..., None].to(tokens.dtype)).reshape(n * length, dim)
    words = tokens.new_zeros(n * n_words, dim).index_add_(0, slot, picked)
    counts = torch.zeros(n * n_words, device=tokens.device).index_add_(0, slot, real.reshape(-1).float())
    return words.view(n, n_words, dim), (counts > 0).view(n, n_words)


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of tokens [N, L, H] over positions where mask [N, L] is set (padding excluded)."""
    weights = mask.to(tokens.dtype)[..., None]
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1)


class PretrainModel(nn.Module):
    """Encoders + heads. `encode_image` / `encode_text` follow docs/CONTRACTS.md; `forward` is
    the training pass (one text-encoder call for every report variant of the batch)."""

    def __init__(
        self, image_encoder: ImageEncoder, text_encoder: TextEncoder, embed_dim: int = 768, *, place_queries: int = 0
    ) -> None:
        """`place_queries` > 0: also a VPOE (`vpoe`) with that many pathology queries over the
        projected local features, for PLACE's alignment term (`pretrain.place.terms`)."""
        super().__init__()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.image_global_head = nn.Linear(image_encoder.global_dim, embed_dim)
        self.image_local_head = nn.Linear(image_encoder.local_dim, embed_dim)
        self.text_global_head = nn.Linear(text_encoder.dim, embed_dim)
        self.text_local_head = nn.Linear(text_encoder.dim, embed_dim)
        self.vpoe = VisualObservationExtractor(embed_dim, embed_dim, n_queries=place_queries) if place_queries else None

    def encode_image(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [B, C, H, W] → (global [B, D], local [B, R, D]), both L2-normalised."""
        return self._image_heads(*self.image_encoder(images))

    def _image_heads(
        self, global_features: torch.Tensor, local_features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            F.normalize(self.image_global_head(global_features), dim=-1),
            F.normalize(self.image_local_head(local_features), dim=-1),
        )

    def _text_global(self, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_global_head(masked_mean(tokens, attention_mask)), dim=-1)

    def _text_words(self, tokens: torch.Tensor, word_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        words, word_mask = pool_words(tokens, word_ids, n_words=max(1, int(word_ids.max()) + 1))
        return F.normalize(self.text_local_head(words), dim=-1), word_mask

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[N, L] token tensors → (global [N, D], words [N, W, D], word_mask [N, W])."""
        tokens = self.text_encoder(input_ids, attention_mask)
        return (self._text_global(tokens, attention_mask), *self._text_words(tokens, word_ids))

    def forward(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        word_ids: torch.Tensor,
        need_local: bool = True,
        need_raw: bool = False,
    ) -> dict[str, torch.Tensor]:
        """images [B, C, H, W]; input_ids / attention_mask / word_ids [B, 1+K, L] (column 0 the
        original). Returns image_global [B, D], text_global [B, 1+K, D]; with `need_local`,
        image_local [B, R, D], words [B, W, D] and word_mask [B, W] of the originals; with
        `need_raw`, the encoders' features before the heads: image_regions [B, R, C] and
        text_tokens [B, 1+K, L, H]."""
        b, variants, length = input_ids.shape
        global_features, regions = self.image_encoder(images)
        image_global, image_local = self._image_heads(global_features, regions)
        tokens = self.text_encoder(input_ids.reshape(-1, length), attention_mask.reshape(-1, length))
        out = {
            "image_global": image_global,
            "text_global": self._text_global(tokens, attention_mask.reshape(-1, length)).view(b, variants, -1),
        }
        if need_local:
            originals = tokens.view(b, variants, length, -1)[:, 0]
            out["image_local"] = image_local
            out["words"], out["word_mask"] = self._text_words(originals, word_ids[:, 0])
        if need_raw:
            out["image_regions"] = regions
            out["text_tokens"] = tokens.view(b, variants, length, -1)
        return out


def build_model(config) -> tuple[PretrainModel, object]:
    """(model, tokenizer) for a `TrainConfig`: encoders by alias or local directory."""
    from pretrain.model.encoders import (TEXT_ALIASES, EncoderError, build_image_backbone, build_text_backbone,
                                         freeze_lower_layers, keep_lower_layers, load_tokenizer)

    tokenizer = load_tokenizer(config.tokenizer if config.text_encoder in TEXT_ALIASES else config.text_encoder)
    image = ImageEncoder(build_image_backbone(config.image_encoder, image_size=config.image_size,
                                              channels=config.channels))
    if config.text_buckets > 1 and tokenizer.padding_side != "right":
        raise EncoderError(f"{config.text_encoder}: its tokenizer pads on the left; length buckets need right padding")
    text_backbone = build_text_backbone(config.text_encoder, tokenizer)
    keep_lower_layers(text_backbone, config.text_layers)
    freeze_lower_layers(text_backbone, config.text_frozen_layers)
    text = TextEncoder(text_backbone, config.text_last_layers, config.text_buckets)
    model = PretrainModel(image, text, config.embed_dim, place_queries=place_queries(config))
    attach_decoder(model, tokenizer, config)
    return model, tokenizer


def place_queries(config) -> int:
    """The VPOE's query count for a `TrainConfig`: 0 (no VPOE) unless its PLACE alignment is on."""
    return config.place_queries if config.use_pcma else 0


def attach_decoder(model: PretrainModel, tokenizer, config) -> None:
    """The HybridMED impression decoder as `model.decoder`, when the config trains one."""
    from pretrain.hybridmed.loss_terms import attach_decoder as attach

    attach(model, tokenizer, config)

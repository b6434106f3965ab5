"""PLACE's two loss terms beside the built-in ones: L = … + γ·L_pcma + δ·L_cce.

- `pcma` (weight γ = `gamma`): the model's VPOE (`PretrainModel.vpoe`, built when `use_pcma` is
  on) reads the projected local features `image_local` — a CNN's map or a ViT's patch tokens,
  both [B, R, D] on a square grid — and its V-PORs are matched to the report's T-PORs and
  contrasted (`pcma_loss`), with a learnable temperature of its own.
- `cce` (weight δ = `delta`): the term's `CorrelationPredictor` predicts the patch–patch
  correlations of `image_local` from the T-PORs and patch positions (`correlation_loss`; the
  target is detached, so it trains the text side and the predictor).

Both read the T-PORs: the collator adds the observations' tokens (`observation_batch`, in the
workers), and `text_observations` encodes the M units of a batch in one text-encoder call, once
per forward however many terms read them (kept in that forward's features).
"""

from __future__ import annotations

import torch

from pretrain.place.correlation import CorrelationPredictor, correlation_loss
from pretrain.place.observations import gather_observations, observation_batch
from pretrain.place.pcma import pcma_loss
from pretrain.place.positions import infer_grid
from pretrain.train.config import ConfigError
from pretrain.train.terms import LossTerm, TermOutput, learnable_temperature, register_term, temperature

#: The batch entries both terms read (`tokenize_observations`).
OBSERVATION_KEYS = ("obs_input_ids", "obs_attention_mask", "obs_word_ids", "obs_slot", "obs_key")
#: Where `text_observations` keeps the T-PORs in a forward's features.
ENCODED = "text_observations"


def text_observations(features: dict, batch, model) -> tuple[torch.Tensor, torch.Tensor]:
    """(T-PORs [B, T, D] L2-normalised, mask [B, T]): the batch's units through the text encoder
    and the global text head in one call — embedded as a one-sentence report would be."""
    if ENCODED not in features:
        flat = model.encode_text(batch["obs_input_ids"], batch["obs_attention_mask"], batch["obs_word_ids"])[0]
        features[ENCODED] = gather_observations(flat, batch["obs_slot"])
    return features[ENCODED]


@register_term
class PcmaTerm(LossTerm):
    """Pathology-level cross-modal alignment of the VPOE's queries with the report's sentences,
    weighted γ, with its own temperature."""

    name = "pcma"
    features = frozenset({"image_local"})
    batch_keys = OBSERVATION_KEYS
    model_parameters = ("vpoe.", "image_local_head.", "text_global_head.")
    collate = staticmethod(observation_batch)

    def __init__(self, weight: float) -> None:
        super().__init__(weight)
        self.log_scale = learnable_temperature()

    @classmethod
    def from_config(cls, config) -> PcmaTerm | None:
        return cls(config.gamma) if config.use_pcma else None

    def forward(self, features, batch, model) -> TermOutput:
        if getattr(model, "vpoe", None) is None:
            raise ConfigError("the pcma term needs a model built with use_pcma (its VPOE)")
        visual = model.vpoe(features["image_local"])
        text, mask = text_observations(features, batch, model)
        return TermOutput(pcma_loss(visual.embeddings, text, mask, self.log_scale, keys=batch["obs_key"]))

    def logged(self) -> dict[str, float]:
        return {"temp_pcma": temperature(self.log_scale)}


@register_term
class CorrelationTerm(LossTerm):
    """Correlation exploration: the image's patch correlations predicted from the report,
    weighted δ; the predictor is the term's own."""

    name = "cce"
    features = frozenset({"image_local"})
    batch_keys = OBSERVATION_KEYS
    model_parameters = ("text_global_head.",)
    collate = staticmethod(observation_batch)

    def __init__(self, weight: float, embed_dim: int) -> None:
        super().__init__(weight)
        self.predictor = CorrelationPredictor(embed_dim)

    @classmethod
    def from_config(cls, config) -> CorrelationTerm | None:
        return cls(config.delta, config.embed_dim) if config.use_cce else None

    def forward(self, features, batch, model) -> TermOutput:
        local = features["image_local"]
        text, mask = text_observations(features, batch, model)
        predicted = self.predictor(infer_grid(local.shape[1]), text, mask)
        return TermOutput(correlation_loss(predicted, local))

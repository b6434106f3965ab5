"""The five HybridMED terms as registered loss terms of the trainer (`pretrain.train.terms`):
`cg` (λ_CG, impression ↔ global image), `cl` (λ_CL, findings words ↔ image regions), `sum`
(λ_Sum, findings → impression), `cap` (λ_Cap, image → impression) and `dis` (λ_Dis,
summarisation distilled into captioning). Each is on when its λ in the config is > 0; which of
them a step sums is the two-stage schedule's choice (`schedule.enter_stage`).

The computations are `pretrain.hybridmed.terms`; here they are fed from the batch (the sections
`batch.SectionTokens` adds) and the model (its encoders, heads and `decoder`). Every term logs
the share of the batch's records it skipped for a missing section (`skipped_<name>`; × batch
size is the count). The decoder
is a module of the model (`model.decoder`, `attach_decoder`), so that checkpoints, exports and
`radperturb generate` carry it; its parameters are trained or frozen by the schedule's groups,
so these terms claim none of the model's parameters by name.
"""

from __future__ import annotations

import torch

from pretrain.hybridmed.batch import SECTION_KEYS, SectionTokens, caption_hidden, encoded_section
from pretrain.hybridmed.decoder import ImpressionDecoder, teacher_forcing
from pretrain.hybridmed.sections import term_rows
from pretrain.hybridmed.terms import (
    distillation_term,
    findings_local_term,
    generation_term,
    impression_global_term,
    teacher_hidden,
)
from pretrain.train.terms import LossTerm, TermOutput, learnable_temperature, register_term, temperature

def attach_decoder(model, tokenizer, config) -> None:
    """Give `model` the impression decoder when the config turns a generation term on: over the
    tokenizer's vocabulary, its captioning branch reading the image encoder's regions and its
    summarisation branch the text encoder's findings tokens."""
    from pretrain.hybridmed.config import needs_decoder

    if not needs_decoder(config):
        return
    model.decoder = ImpressionDecoder(
        len(tokenizer), {"caption": model.image_encoder.local_dim, "summary": model.text_encoder.dim},
        pad_id=tokenizer.pad_token_id, bos_id=tokenizer.cls_token_id, eos_id=tokenizer.sep_token_id,
        dim=config.decoder_dim, layers=config.decoder_layers, heads=config.decoder_heads,
        ffn_dim=4 * config.decoder_dim, max_positions=config.max_length)

class _HybridTerm(LossTerm):
    """Shared plumbing: its λ from the config, the sections in every batch, the skip count."""

    batch_keys = SECTION_KEYS

    def __init__(self, weight: float, max_length: int) -> None:
        super().__init__(weight)
        self.collate = SectionTokens(max_length)

    @classmethod
    def from_config(cls, config):
        weight = getattr(config, f"lambda_{cls.name}")
        return cls(weight, config.max_length) if weight > 0 else None

    def rows(self, batch) -> torch.Tensor:
        return term_rows(batch["has_findings"], batch["has_impression"])[self.name]

    def output(self, loss: torch.Tensor, rows: torch.Tensor) -> TermOutput:
        return TermOutput(loss, {f"skipped_{self.name}": (~rows).float().mean()})

@register_term
class ImpressionGlobalTerm(_HybridTerm):
    """L_CG: InfoNCE between each image and its impression, with its own temperature. Not
    gathered across ranks: records without an impression make the rows per rank differ."""

    name = "cg"
    features = frozenset({"image_global"})
    metrics = ("skipped_cg",)

    def __init__(self, weight: float, max_length: int) -> None:
        super().__init__(weight, max_length)
        self.log_scale = learnable_temperature()

    def forward(self, features, batch, model) -> TermOutput:
        tokens = encoded_section(model, batch, "impression")
        impression = model._text_global(tokens, batch["impression_attention_mask"])
        rows = self.rows(batch)
        value = impression_global_term(features["image_global"], impression, rows, self.log_scale, gather=False)
        return self.output(value.loss, rows)

    def logged(self) -> dict[str, float]:
        return {"temp_cg": temperature(self.log_scale)}

@register_term
class FindingsLocalTerm(_HybridTerm):
    """L_CL: GLoRIA's word–region loss between the image and its FINDINGS' words."""

    name = "cl"
    features = frozenset({"image_local"})
    metrics = ("skipped_cl",)

    def __init__(self, weight: float, max_length: int, *, temps: tuple[float, float, float] = (4.0, 5.0, 10.0)) -> None:
        super().__init__(weight, max_length)
        self.temps = temps

    @classmethod
    def from_config(cls, config):
        if config.lambda_cl <= 0:
            return None
        return cls(config.lambda_cl, config.max_length, temps=(config.temp1, config.temp2, config.temp3))

    def forward(self, features, batch, model) -> TermOutput:
        tokens = encoded_section(model, batch, "findings")
        words, word_mask = model._text_words(tokens, batch["findings_word_ids"])
        rows = self.rows(batch)
        temp1, temp2, temp3 = self.temps
        value = findings_local_term(features["image_local"], words, word_mask, rows,
                                    temp1=temp1, temp2=temp2, temp3=temp3)
        return self.output(value.loss, rows)

@register_term
class SummarisationTerm(_HybridTerm):
    """L_Sum: the impression from the findings' token features (the summarisation branch)."""

    name = "sum"
    metrics = ("skipped_sum",)

    def forward(self, features, batch, model) -> TermOutput:
        memory = encoded_section(model, batch, "findings")
        inputs, targets = teacher_forcing(batch["impression_input_ids"], batch["impression_attention_mask"])
        hidden = model.decoder.hidden("summary", inputs, memory, batch["findings_attention_mask"])
        rows = self.rows(batch)
        return self.output(generation_term(model.decoder, hidden, targets, rows).loss, rows)

@register_term
class CaptioningTerm(_HybridTerm):
    """L_Cap: the impression from the image's regions (the captioning branch)."""

    name = "cap"
    features = frozenset({"image_regions"})
    metrics = ("skipped_cap",)

    def forward(self, features, batch, model) -> TermOutput:
        _, targets = teacher_forcing(batch["impression_input_ids"], batch["impression_attention_mask"])
        rows = self.rows(batch)
        value = generation_term(model.decoder, caption_hidden(model, batch, features), targets, rows)
        return self.output(value.loss, rows)

@register_term
class DistillationTerm(_HybridTerm):
    """L_Dis: the frozen summarisation branch's token distributions distilled into captioning's,
    softened by `distill_temperature`."""

    name = "dis"
    features = frozenset({"image_regions"})
    metrics = ("skipped_dis",)

    def __init__(self, weight: float, max_length: int, *, temperature: float = 2.0) -> None:
        super().__init__(weight, max_length)
        self.temperature = temperature

    @classmethod
    def from_config(cls, config):
        if config.lambda_dis <= 0:
            return None
        return cls(config.lambda_dis, config.max_length, temperature=config.distill_temperature)

    def forward(self, features, batch, model) -> TermOutput:
        inputs, targets = teacher_forcing(batch["impression_input_ids"], batch["impression_attention_mask"])
        teacher = teacher_hidden(model.decoder, inputs, encoded_section(model, batch, "findings"),
                                 batch["findings_attention_mask"])
        rows = self.rows(batch)
        value = distillation_term(model.decoder, caption_hidden(model, batch, features), teacher, targets, rows,
                                  temperature=self.temperature)
        return self.output(value.loss, rows)

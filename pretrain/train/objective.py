"""The training objective L = L_global + α·L_local + β·L_pert on one batch, shared by the
trainer and the GPU benchmark so that both measure the same computation.

`Objective` is the module DDP wraps: the model's forward and every loss term run inside its
forward, so each parameter a term uses (the learnable temperatures too) is used through the
wrapped forward, which DDP requires; and the parameters only a disabled term would use are frozen
(`freeze_disabled_terms`), so a setting with a term switched off holds no parameter that never
gets a gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from pretrain.train.config import TrainConfig
from pretrain.model.losses import global_loss, local_loss, perturbation_accuracy, perturbation_loss
from pretrain.model.dual_encoder import PretrainModel

BATCH_TENSORS = ("images", "input_ids", "attention_mask", "word_ids", "neg_valid")
#: The parameters of `PretrainModel` outside the encoders, by the loss term that uses them (the
#: global and the perturbation terms share the global heads).
TERM_PARAMETERS: dict[str, tuple[str, ...]] = {
    "use_global": ("image_global_head.", "text_global_head.", "log_scale_global"),
    "use_local": ("image_local_head.", "text_local_head."),
    "use_pert": ("image_global_head.", "text_global_head.", "log_scale_pert"),
}


def to_device(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """The collator's tensors on `device` (pinned host memory copies asynchronously); images
    channels-last on GPU, where bf16 convolutions run fastest in that layout."""
    out = {k: batch[k].to(device, non_blocking=True) for k in BATCH_TENSORS}
    if device.type == "cuda":
        out["images"] = out["images"].contiguous(memory_format=torch.channels_last)
    return out


def freeze_disabled_terms(model: PretrainModel, config: TrainConfig) -> list[str]:
    """Set `requires_grad=False` on the heads and temperatures that no enabled term uses (before
    the optimizer is built and DDP wraps the model); returns their names."""
    used = tuple(p for flag, prefixes in TERM_PARAMETERS.items() if getattr(config, flag) for p in prefixes)
    owned = tuple(p for prefixes in TERM_PARAMETERS.values() for p in prefixes)
    frozen = []
    for name, param in model.named_parameters():
        if name.startswith(owned) and not name.startswith(used):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def compute_losses(model: PretrainModel, batch: dict[str, torch.Tensor], config: TrainConfig) -> dict[str, torch.Tensor]:
    """Forward `model` and return the weighted total `loss`, each enabled unweighted term and the
    perturbation accuracy (a detached metric)."""
    out = model(batch["images"], batch["input_ids"], batch["attention_mask"], batch["word_ids"],
                need_local=config.use_local)
    terms: dict[str, torch.Tensor] = {}
    total = out["image_global"].new_zeros((), dtype=torch.float32)
    if config.use_global:
        terms["global"] = global_loss(out["image_global"], out["text_global"][:, 0], model.log_scale_global)
        total = total + terms["global"]
    if config.use_local:
        terms["local"] = local_loss(out["image_local"], out["words"], out["word_mask"],
                                    temp1=config.temp1, temp2=config.temp2, temp3=config.temp3)
        total = total + config.alpha * terms["local"]
    if config.use_pert:
        terms["pert"] = perturbation_loss(out["image_global"], out["text_global"], batch["neg_valid"],
                                          model.log_scale_pert)
        total = total + config.beta * terms["pert"]
        with torch.no_grad():
            terms["pert_acc"] = perturbation_accuracy(out["image_global"], out["text_global"], batch["neg_valid"])
    return {"loss": total, **terms}


class Objective(nn.Module):
    """`model` and the loss terms of `config` in one forward: `objective(batch) -> terms`."""

    def __init__(self, model: PretrainModel, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return compute_losses(self.model, batch, self.config)

"""The training objective L = L_global + α·L_local + β·L_pert on one batch, shared by the
trainer and the GPU benchmark so that both measure the same computation."""

from __future__ import annotations

import torch

from pretrain.config import TrainConfig
from pretrain.losses import global_loss, local_loss, perturbation_accuracy, perturbation_loss
from pretrain.model import PretrainModel

BATCH_TENSORS = ("images", "input_ids", "attention_mask", "word_ids", "neg_valid", "tags_key")


def to_device(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """The collator's tensors on `device` (pinned host memory copies asynchronously); images
    channels-last on GPU, where bf16 convolutions run fastest in that layout."""
    out = {k: batch[k].to(device, non_blocking=True) for k in BATCH_TENSORS}
    if device.type == "cuda":
        out["images"] = out["images"].contiguous(memory_format=torch.channels_last)
    return out


def compute_losses(
    model: torch.nn.Module, raw: PretrainModel, batch: dict[str, torch.Tensor], config: TrainConfig
) -> dict[str, torch.Tensor]:
    """Forward `model` (possibly DDP-wrapped; `raw` is the bare module holding the
    temperatures) and return the weighted total `loss`, each enabled unweighted term and the
    perturbation accuracy (a detached metric)."""
    out = model(batch["images"], batch["input_ids"], batch["attention_mask"], batch["word_ids"],
                need_local=config.use_local)
    terms: dict[str, torch.Tensor] = {}
    total = out["image_global"].new_zeros((), dtype=torch.float32)
    if config.use_global:
        groups = batch["tags_key"] if config.positives == "tags" else None
        terms["global"] = global_loss(out["image_global"], out["text_global"][:, 0], raw.log_scale_global,
                                      groups=groups)
        total = total + terms["global"]
    if config.use_local:
        terms["local"] = local_loss(out["image_local"], out["words"], out["word_mask"],
                                    temp1=config.temp1, temp2=config.temp2, temp3=config.temp3)
        total = total + config.alpha * terms["local"]
    if config.use_pert:
        terms["pert"] = perturbation_loss(out["image_global"], out["text_global"], batch["neg_valid"],
                                          raw.log_scale_pert)
        total = total + config.beta * terms["pert"]
        with torch.no_grad():
            terms["pert_acc"] = perturbation_accuracy(out["image_global"], out["text_global"], batch["neg_valid"])
    return {"loss": total, **terms}

"""AdamW with separate learning rates for the text encoder, the image encoder and the fresh heads, and a
linear-warmup + cosine schedule."""

from __future__ import annotations

import math

import torch

from pretrain.train.config import TrainConfig


def param_groups(module: torch.nn.Module, config: TrainConfig) -> list[dict]:
    """The text encoder at `lr_encoders`, the image encoder at `lr_image_encoder` (when set, else
    `lr_encoders`), heads and the loss terms' parameters (temperatures) at `lr_heads`; no weight
    decay on biases, norm parameters and temperatures (anything below two dimensions). Frozen
    parameters are left out. `module`: the model, or the `Objective` that holds it (as `model`)
    and its terms."""
    rates = {"image_encoder": config.lr_encoders if config.lr_image_encoder is None else config.lr_image_encoder,
             "text_encoder": config.lr_encoders, "heads": config.lr_heads}
    groups: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        part = name.removeprefix("model.").split(".", 1)[0]
        groups.setdefault((part if part in rates else "heads", param.ndim >= 2), []).append(param)
    return [
        {"params": params, "name": part, "lr": rates[part], "weight_decay": config.weight_decay if decay else 0.0}
        for (part, decay), params in sorted(groups.items())
    ]


def build_optimizer(module: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(module, config), fused=device.type == "cuda")


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR factor per step: linear from 0 to 1 over the warmup, then a cosine down to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    warmup = int(config.warmup_ratio * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total_steps, warmup))

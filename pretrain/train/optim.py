"""AdamW with separate learning rates for the pretrained encoders and the fresh heads, and a
linear-warmup + cosine schedule."""

from __future__ import annotations

import math

import torch

from pretrain.train.config import TrainConfig


def param_groups(module: torch.nn.Module, config: TrainConfig) -> list[dict]:
    """Encoders at `lr_encoders`, heads and the loss terms' parameters (temperatures) at
    `lr_heads`; no weight decay on biases, norm parameters and temperatures (anything below two
    dimensions). `module`: the model, or the `Objective` that holds it (as `model`) and its terms."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        encoder = name.removeprefix("model.").startswith(("image_encoder.", "text_encoder."))
        groups.setdefault((encoder, param.ndim >= 2), []).append(param)
    return [
        {"params": params, "name": "encoders" if encoder else "heads",
         "lr": config.lr_encoders if encoder else config.lr_heads,
         "weight_decay": config.weight_decay if decay else 0.0}
        for (encoder, decay), params in sorted(groups.items())
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

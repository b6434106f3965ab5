"""One optimizer step's work, shared by the trainer and the GPU benchmark: forward and backward
over `grad_accum` batches, then clip and read every metric back in a single device sync."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch
from torch.nn.parallel import DistributedDataParallel

from pretrain.train.config import TrainConfig
from pretrain.train.distributed import is_distributed
from pretrain.train.objective import to_device


def autocast(device: torch.device):
    """bf16 autocast on GPU; full precision on CPU (where bf16 matmuls are slow, not fast)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def forward_backward(
    objective: torch.nn.Module,
    batches: Iterator[dict],
    config: TrainConfig,
    device: torch.device,
) -> tuple[dict[str, torch.Tensor], float]:
    """Accumulate gradients over `grad_accum` batches of an `Objective` (possibly DDP-wrapped;
    DDP syncs only on the last). Returns the detached loss terms averaged over the batches, and
    the seconds spent waiting for data."""
    objective.train()
    sums: dict[str, torch.Tensor] = {}
    waited = 0.0
    for micro in range(config.grad_accum):
        started = time.perf_counter()
        batch = to_device(next(batches), device)
        waited += time.perf_counter() - started
        last = micro == config.grad_accum - 1
        defer = isinstance(objective, DistributedDataParallel) and not last
        with objective.no_sync() if defer else contextlib.nullcontext():
            with autocast(device):
                terms = objective(batch)
            (terms["loss"] / config.grad_accum).backward()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + value.detach().float() / config.grad_accum
    return sums, waited


def clip_and_read(trained: torch.nn.Module, sums: dict[str, torch.Tensor], grad_clip: float) -> dict[str, float]:
    """Clip the gradient norm of `trained` (the bare `Objective`: the model and its terms) when
    grad_clip > 0, and bring the terms and the norm to the host in one sync; under DDP the terms
    are averaged over ranks, so every rank reads the same."""
    params = [p for p in trained.parameters() if p.grad is not None]
    if grad_clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    else:
        norm = torch.linalg.vector_norm(torch.stack([p.grad.float().norm() for p in params]))
    keys = [*sums, "grad_norm"]
    stacked = torch.stack([*(sums[k].float() for k in sums), norm.float()])
    if is_distributed():
        torch.distributed.all_reduce(stacked)
        stacked /= torch.distributed.get_world_size()
    return dict(zip(keys, stacked.tolist()))

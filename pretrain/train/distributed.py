"""torch.distributed helpers: process-group set-up from torchrun's environment and a gather that
keeps gradients, so contrastive losses see every rank's samples as negatives."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1); a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for each slice and returns this
    rank's: each rank receives the gradient that all ranks' losses send to its features."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world = dist.get_world_size()
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(all ranks' rows concatenated in rank order, offset of this rank's rows). Every rank must
    pass the same number of rows (the trainer drops the last incomplete batch). Identity when not
    distributed."""
    if not is_distributed():
        return x, 0
    return _GatherWithGrad.apply(x), dist.get_rank() * x.shape[0]


def any_true(flag: bool, device: torch.device) -> bool:
    """Whether `flag` holds on some rank."""
    if not is_distributed():
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t)
    return int(t.item()) > 0

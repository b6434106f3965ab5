"""Fixed 2-D sine–cosine codes of patch positions (MAE's form), for any grid size.

Fixed rather than learned so that one head serves every image size and backbone: a ResNet
stage-3 map and a ViT patch grid differ in size, and a CNN map carries no absolute position of its
own.
"""

from __future__ import annotations

import math

import torch


def infer_grid(n_tokens: int, grid: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (height, width) of `n_tokens` patch tokens: `grid` when given, else a square."""
    if grid is not None:
        h, w = grid
        if h * w != n_tokens:
            raise ValueError(f"grid {h}×{w} does not hold {n_tokens} tokens")
        return int(h), int(w)
    side = math.isqrt(n_tokens)
    if side * side != n_tokens:
        raise ValueError(f"{n_tokens} patch tokens are not a square grid; pass grid=(height, width)")
    return side, side


def sincos_grid(height: int, width: int, dim: int) -> torch.Tensor:
    """[height·width, dim] codes, row-major like `flatten(2)` of a [C, H, W] map: the first half
    of the channels encodes the row, the second half the column, each as sines and cosines of
    geometrically spaced frequencies. `dim` must be a multiple of 4."""
    if dim % 4:
        raise ValueError(f"a 2-D sine–cosine code needs a dimension divisible by 4, not {dim}")
    quarter = dim // 4
    freq = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                                torch.arange(width, dtype=torch.float32), indexing="ij")

    def code(coordinate: torch.Tensor) -> torch.Tensor:
        angles = coordinate.reshape(-1, 1) * freq
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([code(rows), code(cols)], dim=1)

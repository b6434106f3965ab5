"""The Visual Pathology Observation Extractor (VPOE): Q learnable pathology queries read the image's
local tokens through a small query decoder and become Q visual observations (V-PORs).

No disease labels: what each query comes to stand for is decided only by which textual
observation `pcma` matches it to. A CNN map [B, C, H, W] and ViT patch tokens [B, N, C] are read
alike — both become N = H·W tokens with fixed 2-D position codes on the keys, so queries can
specialise by place (a lung base, the heart border) as well as by appearance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.place.decoder import QueryDecoder
from pretrain.place.positions import infer_grid, sincos_grid

#: Defaults and their reasons: docs/place.md.
N_QUERIES = 16
LAYERS = 2
WIDTH = 256
HEADS = 4


@dataclass(frozen=True)
class VisualObservations:
    """V-PORs of a batch: `embeddings` [B, Q, D] L2-normalised; `attention` [B, Q, N], the last
    layer's cross-attention of each query over the N local tokens (rows sum to 1); `grid` (h, w)."""

    embeddings: torch.Tensor
    attention: torch.Tensor
    grid: tuple[int, int]

    def attention_maps(self) -> torch.Tensor:
        """[B, Q, h, w]: where each query looked, in the layout of the image's patch grid."""
        b, q, _ = self.attention.shape
        return self.attention.reshape(b, q, *self.grid)


class VisualObservationExtractor(nn.Module):
    """Local tokens (in_dim channels) → `n_queries` V-PORs in the `out_dim` joint space."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        n_queries: int = N_QUERIES,
        width: int = WIDTH,
        layers: int = LAYERS,
        heads: int = HEADS,
    ) -> None:
        super().__init__()
        self.width = width
        self.queries = nn.Parameter(torch.randn(n_queries, width))  # N(0, 1): see docs/place.md
        self.project_in = nn.Linear(in_dim, width)
        self.decoder = QueryDecoder(width, layers, heads)
        self.project_out = nn.Linear(width, out_dim)

    def forward(self, local: torch.Tensor, grid: tuple[int, int] | None = None) -> VisualObservations:
        """local: a feature map [B, C, H, W] or tokens [B, N, C] (their grid is `grid`, or a
        square when omitted — a ViT's patch tokens after its CLS and register tokens)."""
        if local.dim() == 4:
            grid = (local.shape[2], local.shape[3])
            local = local.flatten(2).transpose(1, 2)
        elif local.dim() != 3:
            raise ValueError(f"VPOE reads a map [B, C, H, W] or tokens [B, N, C], not shape {tuple(local.shape)}")
        grid = infer_grid(local.shape[1], grid)
        memory = self.project_in(local)
        pos = sincos_grid(*grid, self.width).to(memory)
        queries = self.queries.to(memory.dtype).expand(local.shape[0], -1, -1)
        out, attention = self.decoder(queries, memory, pos)
        return VisualObservations(F.normalize(self.project_out(out), dim=-1), attention, grid)

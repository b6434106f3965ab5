"""A small query decoder: queries attend to each other, then over a memory (DETR/Q-Former-style).

Both PLACE heads are this decoder: in the VPOE the queries are learned pathology queries and the
memory is the image's local tokens; in the correlation predictor the queries are patch positions
and the memory is the report's observations. Pre-norm layers (stable without warm-up tricks);
position codes are added to the keys only, never to the values (DETR), so what a query reads out
is content, and where it reads is steered by position.
"""

from __future__ import annotations

import torch
from torch import nn


class QueryDecoderLayer(nn.Module):
    """Self-attention among queries, cross-attention over the memory, feed-forward; each residual."""

    def __init__(self, dim: int, heads: int, ffn_mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.GELU(), nn.Linear(ffn_mult * dim, dim))

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        ignore: torch.Tensor | None,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.norm_self(queries)
        queries = queries + self.self_attn(x, x, x, need_weights=False)[0]
        read, weights = self.cross_attn(self.norm_cross(queries), keys, values, key_padding_mask=ignore,
                                        need_weights=need_weights, average_attn_weights=True)
        queries = queries + read
        return queries + self.ffn(self.norm_ffn(queries)), weights


class QueryDecoder(nn.Module):
    """`layers` decoder layers over one memory. Returns the final queries and the last layer's
    cross-attention [B, Q, N], averaged over heads (what `radperturb explain` shows)."""

    def __init__(self, dim: int, layers: int = 2, heads: int = 4, ffn_mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError("a query decoder needs at least one layer")
        self.layers = nn.ModuleList(QueryDecoderLayer(dim, heads, ffn_mult, dropout) for _ in range(layers))
        self.norm_memory = nn.LayerNorm(dim)
        self.norm_out = nn.LayerNorm(dim)

    def forward(
        self,
        queries: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries [B, Q, dim]; memory [B, N, dim]; memory_pos [N, dim] or [B, N, dim], added to
        the keys; memory_mask [B, N] bool, True where a memory entry is real (each row needs one)."""
        values = self.norm_memory(memory)
        keys = values if memory_pos is None else values + memory_pos
        ignore = None if memory_mask is None else ~memory_mask
        if ignore is not None and bool(ignore.all(dim=1).any()):
            raise ValueError("query decoder: every memory row needs at least one real entry")
        weights = None
        for i, layer in enumerate(self.layers):
            queries, weights = layer(queries, keys, values, ignore, need_weights=i == len(self.layers) - 1)
        return self.norm_out(queries), weights

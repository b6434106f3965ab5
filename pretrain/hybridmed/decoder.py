"""The impression decoder: one transformer decoder, two branches.

Every layer holds ONE causal self-attention and ONE feed-forward block, used by both branches
(the same parameter objects, so the summarisation branch's training in stage 1 is what the
captioning branch starts from), and one cross-attention per branch: `caption` attends to image
tokens, `summary` to findings tokens. Each branch also has its own input projection of its
memory (image features and text-encoder features differ in width and scale). The token
embedding is tied to the output projection and shared; the vocabulary is the text encoder's
tokenizer's, so impressions are tokenized once for the contrastive and generation terms alike.

Pre-norm residual blocks (self-attention, cross-attention, feed-forward), as in GPT-2 and most
recent decoders: they train without learning-rate warm-up tricks at this small size.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

#: The two branches and what their cross-attention reads.
BRANCHES = ("caption", "summary")
#: Target value of positions that score nothing (padding), as in `F.cross_entropy`.
IGNORE_INDEX = -100


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """[T, T] bool, True where a position may NOT attend (a later position)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class CrossAttention(nn.Module):
    """Pre-norm cross-attention from decoder states to one branch's memory."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None) -> torch.Tensor:
        padding = None if memory_mask is None else ~memory_mask.bool()
        out, _ = self.attn(self.norm(x), memory, memory, key_padding_mask=padding, need_weights=False)
        return out


class DecoderLayer(nn.Module):
    """Shared self-attention and feed-forward; a cross-attention per branch."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross = nn.ModuleDict({branch: CrossAttention(dim, heads, dropout) for branch in BRANCHES})
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, branch: str, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        h = self.self_norm(x)
        mask = causal_mask(x.shape[1], x.device)
        x = x + self.dropout(self.self_attn(h, h, h, attn_mask=mask, is_causal=True, need_weights=False)[0])
        x = x + self.dropout(self.cross[branch](x, memory, memory_mask))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


def parameter_branch(name: str) -> str:
    """'caption' or 'summary' for a branch-specific parameter name of the decoder (its
    cross-attention or memory projection), 'shared' for everything else."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part in ("cross", "memory_in") and parts[i + 1] in BRANCHES:
            return parts[i + 1]
    return "shared"


class ImpressionDecoder(nn.Module):
    """Autoregressive impression decoder over the text encoder's vocabulary.

    memory_dims: the width of each branch's memory (image local features for `caption`,
    text-encoder token features for `summary`). `max_positions` bounds the decoder's input
    (BOS + impression tokens); BOS/EOS/PAD are the tokenizer's CLS/SEP/PAD, which is how
    `tokenize_reports` already frames a text.
    """

    def __init__(
        self,
        vocab_size: int,
        memory_dims: Mapping[str, int],
        *,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        dim: int = 256,
        layers: int = 3,
        heads: int = 4,
        ffn_dim: int = 1024,
        max_positions: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        missing = [b for b in BRANCHES if b not in memory_dims]
        if missing:
            raise ValueError(f"ImpressionDecoder: memory_dims lacks {', '.join(missing)}")
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.max_positions = int(max_positions)
        self.token_embedding = nn.Embedding(vocab_size, dim, padding_idx=self.pad_id)
        self.position_embedding = nn.Embedding(self.max_positions, dim)
        self.memory_in = nn.ModuleDict(
            {b: nn.Sequential(nn.Linear(memory_dims[b], dim), nn.LayerNorm(dim)) for b in BRANCHES}
        )
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ffn_dim, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(dim)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.token_embedding.weight, std=dim**-0.5)
        with torch.no_grad():
            self.token_embedding.weight[self.pad_id].zero_()

    @property
    def output_weight(self) -> torch.Tensor:
        """[V, dim]: the output projection, tied to the token embedding."""
        return self.token_embedding.weight

    def branch_parameters(self, branch: str) -> list[nn.Parameter]:
        """Every parameter a branch's forward pass uses: the shared ones and its own."""
        return [p for name, p in self.named_parameters() if parameter_branch(name) in ("shared", branch)]

    def hidden(
        self,
        branch: str,
        input_ids: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final hidden states [N, T, dim] of a branch for decoder inputs `input_ids` [N, T]
        (BOS first), attending to `memory` [N, M, memory_dim] where `memory_mask` [N, M] is
        True (None: all of it). Vocabulary logits are left to `logits` or `vocab_loss`, so a
        long impression never needs its [N, T, V] logits in memory at once."""
        if branch not in BRANCHES:
            raise ValueError(f"unknown decoder branch {branch!r}; expected one of {', '.join(BRANCHES)}")
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise ValueError(f"decoder input of {length} tokens exceeds max_positions={self.max_positions}")
        positions = torch.arange(length, device=input_ids.device)
        x = self.dropout(self.token_embedding(input_ids) + self.position_embedding(positions))
        memory = self.memory_in[branch](memory)
        for layer in self.layers:
            x = layer(x, branch, memory, memory_mask)
        return self.final_norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits [..., V] of hidden states [..., dim]."""
        return hidden @ self.output_weight.T + self.output_bias


def teacher_forcing(impression_ids: torch.Tensor, impression_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenized impressions [N, L] ([CLS] text [SEP] pad…, as `tokenize_reports` writes them)
    → decoder inputs [N, L-1] (BOS + text) and targets [N, L-1] (text + EOS, IGNORE_INDEX at
    padding)."""
    inputs = impression_ids[:, :-1]
    targets = impression_ids[:, 1:].masked_fill(~impression_mask[:, 1:].bool(), IGNORE_INDEX)
    return inputs, targets

"""Correlation exploration: predict the image's patch–patch correlations from the report.

**Target.** For the image's local features X [N, C] (N patches), centre them over the patches and
take cosines: Z = X − mean_n X, C*[i, j] = cos(z_i, z_j). Centring removes what every patch shares
(the image's overall content, which the global loss already aligns), so C* holds only the
structure among regions — which patches look alike, which stand out — as a unit-diagonal
correlation matrix. It is computed from detached features: the predictor chases the image, the
image is not pulled toward what is easy to predict (without the stop-gradient the encoder could
make its patch structure the same for every image, and the task would be solved by collapse).

**Predictor.** Its queries are the N patch positions (fixed 2-D codes) — never the patches' own
features — and its memory is the report's observations (T-PORs) plus one learned null entry; a
query decoder turns each position into a k-dimensional code p_n and the prediction is their
cosine Gram Ĉ[i, j] = cos(p_i, p_j): unit diagonal and positive semi-definite like C*.

**Why it is neither blind nor trivial.** The input holds no pixel and no patch feature, so the
answer cannot be read off it; with the report masked out, the best a predictor can do is the
anatomy-average structure E[C* | position], and only what the report says ("right lower lobe
consolidation") can lower the loss below that floor — tests/test_place_correlation.py trains both
on a toy problem and checks the gap. With `context` (visible patch features of a masked view, say)
the queries of the visible patches also carry their content; the loss then scores only pairs with
a hidden patch, whose structure the context alone does not give.

**Loss.** The mean squared error between Ĉ and C* over the off-diagonal pairs scored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.model.losses import _full
from pretrain.place.decoder import QueryDecoder
from pretrain.place.positions import sincos_grid

#: Defaults and their reasons: docs/place.md.
WIDTH = 128
CODE_DIM = 64
LAYERS = 2
HEADS = 4


def correlation_target(patches: torch.Tensor) -> torch.Tensor:
    """[B, N, N] centred cosine correlations of the patch features [B, N, C] (module docstring)."""
    centred = patches - patches.mean(dim=1, keepdim=True)
    unit = F.normalize(centred, dim=-1)
    return unit @ unit.transpose(1, 2)


class CorrelationPredictor(nn.Module):
    """Patch positions, conditioned on report observations (`condition_dim` wide) → Ĉ [B, N, N]."""

    def __init__(
        self,
        condition_dim: int,
        *,
        width: int = WIDTH,
        code_dim: int = CODE_DIM,
        layers: int = LAYERS,
        heads: int = HEADS,
        context_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.width = width
        self.position = nn.Linear(width, width)
        self.hidden = nn.Parameter(0.02 * torch.randn(width))
        self.context = None if context_dim is None else nn.Linear(context_dim, width)
        self.null = nn.Parameter(0.02 * torch.randn(1, width))
        self.condition = nn.Linear(condition_dim, width)
        self.decoder = QueryDecoder(width, layers, heads)
        self.code = nn.Linear(width, code_dim)

    def forward(
        self,
        grid: tuple[int, int],
        condition: torch.Tensor,
        condition_mask: torch.Tensor,
        context: torch.Tensor | None = None,
        visible: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """grid (h, w) of the N = h·w patches; condition [B, T, condition_dim] with
        condition_mask [B, T] (all False: report-blind); context [B, N, context_dim] with
        visible [B, N] bool (both or neither; needs `context_dim`)."""
        b = condition.shape[0]
        queries = self.position(sincos_grid(*grid, self.width).to(condition))
        queries = queries.expand(b, -1, -1)
        if context is None:
            queries = queries + self.hidden
        else:
            if self.context is None or visible is None:
                raise ValueError("context needs a predictor built with context_dim, and a visible mask")
            shown = self.context(context)
            queries = queries + torch.where(visible[..., None], shown, self.hidden.to(shown.dtype).expand_as(shown))
        memory = torch.cat([self.null.expand(b, -1, -1).to(condition.dtype), self.condition(condition)], dim=1)
        memory_mask = torch.cat([condition_mask.new_ones(b, 1), condition_mask], dim=1)
        out, _ = self.decoder(queries, memory, memory_mask=memory_mask)
        codes = F.normalize(self.code(out), dim=-1)
        return codes @ codes.transpose(1, 2)


def correlation_loss(
    predicted: torch.Tensor, patches: torch.Tensor, visible: torch.Tensor | None = None
) -> torch.Tensor:
    """MSE between the predicted correlations [B, N, N] and `correlation_target` of the detached
    patch features [B, N, C], over off-diagonal pairs — only those with a hidden patch when
    `visible` [B, N] is given (a batch whose patches are all visible raises)."""
    target = correlation_target(patches.detach())
    n = patches.shape[1]
    scored = ~torch.eye(n, dtype=torch.bool, device=patches.device).expand(patches.shape[0], n, n)
    if visible is not None:
        scored = scored & ~(visible[:, :, None] & visible[:, None, :])
    if not bool(scored.any()):
        raise ValueError("correlation_loss: no pair of patches to score")
    error = (_full(predicted) - _full(target)).square()
    return error[scored].mean()

"""The VPOE and its query decoder: shapes for CNN maps and ViT tokens, attention maps, grids,
batch independence, and gradients reaching every parameter (DDP refuses unused ones)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pretrain.place import VisualObservationExtractor
from pretrain.place.decoder import QueryDecoder
from pretrain.place.positions import infer_grid, sincos_grid


def _vpoe(in_dim: int = 12, out_dim: int = 10) -> VisualObservationExtractor:
    torch.manual_seed(0)
    return VisualObservationExtractor(in_dim, out_dim, n_queries=5, width=16, layers=2, heads=2)


def test_a_cnn_map_gives_normalised_observations_and_attention_maps():
    vpoe = _vpoe()
    out = vpoe(torch.randn(3, 12, 4, 6))
    assert out.embeddings.shape == (3, 5, 10)
    torch.testing.assert_close(out.embeddings.norm(dim=-1), torch.ones(3, 5))
    assert out.attention.shape == (3, 5, 24) and out.grid == (4, 6)
    torch.testing.assert_close(out.attention.sum(dim=-1), torch.ones(3, 5))
    assert out.attention_maps().shape == (3, 5, 4, 6)


def test_a_map_and_its_flattened_tokens_give_the_same_observations():
    vpoe = _vpoe().eval()
    feature_map = torch.randn(2, 12, 3, 5)
    tokens = feature_map.flatten(2).transpose(1, 2)  # what ImageEncoder returns as local features
    from_map, from_tokens = vpoe(feature_map), vpoe(tokens, grid=(3, 5))
    torch.testing.assert_close(from_map.embeddings, from_tokens.embeddings)
    torch.testing.assert_close(from_map.attention_maps(), from_tokens.attention_maps())


def test_vit_tokens_need_a_square_or_a_grid():
    vpoe = _vpoe()
    assert vpoe(torch.randn(2, 16, 12)).grid == (4, 4)
    with pytest.raises(ValueError, match="not a square grid"):
        vpoe(torch.randn(2, 15, 12))
    assert vpoe(torch.randn(2, 15, 12), grid=(3, 5)).grid == (3, 5)
    with pytest.raises(ValueError, match="does not hold"):
        infer_grid(15, (4, 4))
    with pytest.raises(ValueError, match="map"):
        vpoe(torch.randn(12))


def test_each_image_observations_depend_on_that_image_only():
    vpoe = _vpoe().eval()
    local = torch.randn(4, 12, 3, 3)
    order = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(vpoe(local).embeddings[order], vpoe(local[order]).embeddings)


def test_gradients_reach_every_parameter_and_the_input():
    vpoe = _vpoe()
    local = torch.randn(2, 12, 3, 3, requires_grad=True)
    out = vpoe(local)
    (out.embeddings.sum() + (out.attention * torch.randn_like(out.attention)).sum()).backward()
    missing = [name for name, p in vpoe.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []
    assert local.grad.abs().sum() > 0


def test_position_codes_are_distinct_per_patch():
    code = sincos_grid(3, 4, 8)
    assert code.shape == (12, 8)
    assert torch.cdist(code, code).add(torch.eye(12)).min() > 0.1
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_grid(2, 2, 6)


def test_decoder_masks_memory_and_refuses_an_empty_row():
    torch.manual_seed(1)
    decoder = QueryDecoder(8, layers=1, heads=2).eval()
    queries, memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    out, attention = decoder(queries, memory, memory_mask=mask)
    assert attention[0, :, 2:].abs().max() == 0
    changed = memory.clone()
    changed[0, 2:] = 100.0  # padding holds anything: nothing changes
    torch.testing.assert_close(decoder(queries, changed, memory_mask=mask)[0][0], out[0])
    with pytest.raises(ValueError, match="at least one real entry"):
        decoder(queries, memory, memory_mask=torch.tensor([[False] * 4, [True] * 4]))


def test_distinct_queries_give_distinct_observations_at_init():
    """The queries' init must survive the first residual: with queries of scale 0.02 the
    cross-attention read (scale 1) swamped them, all 16 V-PORs left the decoder alike (mean
    pairwise cosine 0.993) and PCMA's plan could not tell them apart (docs/place.md)."""
    torch.manual_seed(0)
    local = F.normalize(torch.randn(4, 16, 768), dim=-1)
    out = VisualObservationExtractor(768, 768)(local).embeddings
    cosines = out @ out.transpose(1, 2)
    off_diagonal = cosines[:, ~torch.eye(16, dtype=torch.bool)]
    assert off_diagonal.mean() < 0.5

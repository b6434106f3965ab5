"""Correlation exploration: the target's invariants, the predictor's shapes and masks, the loss
against a loop, and a real optimisation showing a report-blind predictor does worse."""

from __future__ import annotations

import pytest
import torch

from pretrain.place import CorrelationPredictor, correlation_loss, correlation_target


def _predictor(**kwargs) -> CorrelationPredictor:
    torch.manual_seed(0)
    return CorrelationPredictor(6, width=16, code_dim=8, layers=1, heads=2, **kwargs)


def test_target_is_a_correlation_matrix_blind_to_what_all_patches_share():
    g = torch.Generator().manual_seed(0)
    patches = torch.randn(2, 9, 5, generator=g, dtype=torch.float64)
    target = correlation_target(patches)
    torch.testing.assert_close(target.diagonal(dim1=1, dim2=2), torch.ones(2, 9, dtype=torch.float64))
    torch.testing.assert_close(target, target.transpose(1, 2))
    assert torch.linalg.eigvalsh(target).min() > -1e-9
    shared = torch.randn(2, 1, 5, generator=g, dtype=torch.float64)  # the image's overall content
    torch.testing.assert_close(correlation_target(patches + 10 * shared), target)


def test_predictor_shapes_blind_and_with_context():
    predictor = _predictor(context_dim=4)
    condition = torch.randn(3, 2, 6)
    conditioned = predictor((2, 3), condition, torch.tensor([[1, 1], [1, 0], [0, 0]], dtype=torch.bool))
    assert conditioned.shape == (3, 6, 6)
    torch.testing.assert_close(conditioned.diagonal(dim1=1, dim2=2), torch.ones(3, 6))
    blind = predictor((2, 3), condition, torch.zeros(3, 2, dtype=torch.bool))
    torch.testing.assert_close(blind[0], blind[2])  # with the report masked out, every image alike
    visible = torch.rand(3, 6) > 0.5
    with_context = predictor((2, 3), condition, torch.ones(3, 2, dtype=torch.bool), torch.randn(3, 6, 4), visible)
    assert with_context.shape == (3, 6, 6)
    with pytest.raises(ValueError, match="context"):
        _predictor()((2, 3), condition, torch.ones(3, 2, dtype=torch.bool), torch.randn(3, 6, 4), visible)


def test_hidden_patches_features_never_reach_the_predictor():
    predictor = _predictor(context_dim=4).eval()
    condition, mask = torch.randn(1, 2, 6), torch.ones(1, 2, dtype=torch.bool)
    context = torch.randn(1, 6, 4)
    visible = torch.tensor([[True, False, True, False, False, True]])
    base = predictor((2, 3), condition, mask, context, visible)
    changed = context.clone()
    changed[~visible] = 100.0
    torch.testing.assert_close(predictor((2, 3), condition, mask, changed, visible), base)
    changed[visible] = 100.0
    assert not torch.allclose(predictor((2, 3), condition, mask, changed, visible), base)


def test_every_predictor_parameter_gets_a_gradient():
    predictor = _predictor()
    condition = torch.randn(2, 3, 6, requires_grad=True)
    patches = torch.randn(2, 6, 5)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    correlation_loss(predictor((2, 3), condition, mask), patches).backward()
    assert [name for name, p in predictor.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []
    assert condition.grad[:, 0].abs().sum() > 0 and condition.grad[1, 1:].abs().max() == 0  # masked: none


def test_loss_matches_a_loop_and_never_reaches_the_patches():
    g = torch.Generator().manual_seed(1)
    predicted = torch.tanh(torch.randn(2, 4, 4, generator=g, dtype=torch.float64)).requires_grad_()
    patches = torch.randn(2, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    visible = torch.tensor([[True, True, False, True], [False, False, True, True]])
    loss = correlation_loss(predicted, patches, visible)
    target = correlation_target(patches.detach())
    terms = [
        (predicted[b, i, j] - target[b, i, j]) ** 2
        for b in range(2) for i in range(4) for j in range(4)
        if i != j and not (visible[b, i] and visible[b, j])
    ]
    torch.testing.assert_close(loss, torch.stack(terms).mean())
    loss.backward()
    assert patches.grad is None and predicted.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="no pair"):
        correlation_loss(predicted, patches, torch.ones(2, 4, dtype=torch.bool))


# --- blind vs conditioned ---------------------------------------------------------------------

GRID, CHANNELS, QUADRANTS = (4, 4), 8, 4


def _toy_batch(n: int, g: torch.Generator, anatomy: torch.Tensor, lesion: torch.Tensor):
    """4×4 patches: an anatomy pattern shared by every image, noise, and a lesion filling one random
    quadrant. The report's first observation names the quadrant, its second says nothing."""
    quadrant = torch.randint(QUADRANTS, (n,), generator=g)
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    patch_quadrant = (2 * (rows // 2) + cols // 2).reshape(-1)  # [16]
    inside = (patch_quadrant[None, :] == quadrant[:, None]).float()
    patches = anatomy + 0.3 * torch.randn(n, 16, CHANNELS, generator=g) + inside[..., None] * lesion
    condition = torch.zeros(n, 2, 6)
    condition[torch.arange(n), 0, quadrant] = 1.0
    condition[:, 1, 5] = 1.0
    return patches, condition + 0.05 * torch.randn(n, 2, 6, generator=g)


def _toy_world():
    g = torch.Generator().manual_seed(0)
    anatomy, lesion = 0.5 * torch.randn(16, CHANNELS, generator=g), 2.0 * torch.randn(CHANNELS, generator=g)
    return g, anatomy, lesion, _toy_batch(128, torch.Generator().manual_seed(99), anatomy, lesion)


def _train(blind: bool, steps: int = 100) -> float:
    """Held-out loss of a predictor trained with Adam on fresh toy batches, the report masked out
    or not."""
    g, anatomy, lesion, held_out = _toy_world()
    torch.manual_seed(1)
    predictor = CorrelationPredictor(6, width=32, code_dim=16, layers=1, heads=2)
    optimiser = torch.optim.Adam(predictor.parameters(), lr=3e-3)

    def loss_of(patches, condition):
        mask = torch.full(condition.shape[:2], not blind)
        return correlation_loss(predictor(GRID, condition, mask), patches)

    for _ in range(steps):
        optimiser.zero_grad()
        loss_of(*_toy_batch(32, g, anatomy, lesion)).backward()
        optimiser.step()
    with torch.no_grad():
        return loss_of(*held_out).item()


def _blind_floor() -> float:
    """The least held-out loss of any report-blind predictor: its input is the same for every
    image, so its best prediction is the held-out targets' mean."""
    patches = _toy_world()[3][0]
    target = correlation_target(patches)
    off_diagonal = ~torch.eye(16, dtype=torch.bool).expand_as(target)
    return (target - target.mean(dim=0)).square()[off_diagonal].mean().item()


def test_a_report_blind_predictor_does_worse_than_the_conditioned_one():
    """The same predictor trained alike, with and without the report (which names the lesion's
    quadrant): the conditioned one beats not only the trained blind one but the floor of every
    blind predictor by a wide margin."""
    conditioned, blind, floor = _train(blind=False), _train(blind=True), _blind_floor()
    assert blind >= floor - 1e-6
    assert conditioned < 0.5 * floor, (conditioned, blind, floor)

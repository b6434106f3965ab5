"""PCMA: the Sinkhorn plan's marginals, a toy case whose right matching is known and is found, and
the loss against a slow loop twin (values and gradients, with padding and duplicate texts)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pretrain.model.losses import INIT_TEMPERATURE, MAX_LOGIT_SCALE
from pretrain.place import matched_visual, observation_plan, pcma_loss
from pretrain.place.pcma import EPSILON, ITERATIONS

DTYPE = torch.float64


def _unit(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=DTYPE), dim=-1)


def _lengths_mask(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


# --- slow twin --------------------------------------------------------------------------------


def slow_plan(sim: torch.Tensor, epsilon: float, iterations: int) -> torch.Tensor:
    """Sinkhorn–Knopp in the plain domain for one pair: sim [Q, T] → plan [Q, T + 1]."""
    q, t = sim.shape
    share, dustbin = min(1.0, q / t), max(0.0, q - t)
    kernel = torch.exp(torch.cat([sim, sim.new_zeros(q, 1)], dim=1) / epsilon)
    target = torch.tensor([share] * t + [dustbin], dtype=sim.dtype)
    u, v = torch.ones(q, dtype=sim.dtype), (target > 0).to(sim.dtype)
    for _ in range(iterations):
        u = 1 / (kernel @ v)
        v = target / (kernel.T @ u)
    return u[:, None] * kernel * v[None, :]


def slow_pcma(visual, text, mask, log_scale, keys=None, epsilon=EPSILON, iterations=ITERATIONS):
    scale = log_scale.clamp(0, MAX_LOGIT_SCALE).exp()
    pairs = []  # (matched visual, text, key) of every real observation, report by report
    for b in range(visual.shape[0]):
        n = int(mask[b].sum())
        if n == 0:
            continue
        sim = torch.stack([torch.stack([visual[b, q] @ text[b, t] for t in range(n)]) for q in range(visual.shape[1])])
        plan = slow_plan(sim.detach(), epsilon, iterations)
        for t in range(n):
            mean = sum(plan[q, t] * visual[b, q] for q in range(visual.shape[1])) / plan[:, t].sum()
            pairs.append((mean / mean.norm(), text[b, t], None if keys is None else int(keys[b, t])))
    total = 0.0
    for i, (v_i, t_i, k_i) in enumerate(pairs):
        allowed = [j for j, (_, _, k_j) in enumerate(pairs) if j == i or k_i is None or k_j != k_i]
        v2t = torch.stack([scale * (v_i @ pairs[j][1]) for j in allowed])
        t2v = torch.stack([scale * (t_i @ pairs[j][0]) for j in allowed])
        at = allowed.index(i)
        total = total - torch.log_softmax(v2t, 0)[at] - torch.log_softmax(t2v, 0)[at]
    return total / (2 * len(pairs))


# --- the plan ---------------------------------------------------------------------------------


def test_plan_marginals_with_dustbin_padding_and_more_observations_than_queries():
    q, width = 4, 6
    visual, text = _unit(3, q, 8, seed=0), _unit(3, width, 8, seed=1)
    mask = _lengths_mask([2, 6, 0], width)
    plan = observation_plan(torch.einsum("bqd,btd->bqt", visual, text), mask, iterations=200)
    assert plan.shape == (3, q, width + 1)
    torch.testing.assert_close(plan.sum(dim=2), torch.ones(3, q, dtype=DTYPE), atol=1e-6, rtol=0)
    columns = plan.sum(dim=1)
    torch.testing.assert_close(columns[0], torch.tensor([1, 1, 0, 0, 0, 0, 2], dtype=DTYPE))  # 2 spare → ∅
    torch.testing.assert_close(columns[1], torch.tensor([4 / 6] * 6 + [0], dtype=DTYPE))  # T > Q: shared
    torch.testing.assert_close(columns[2], torch.tensor([0] * 6 + [4], dtype=DTYPE))  # nothing to match
    assert plan[:, :, :-1].masked_select(~mask[:, None, :]).abs().max() == 0  # padding: no mass


def test_toy_matching_finds_the_known_correspondence():
    """Queries are 6 orthonormal directions; report 0 observes queries 4, 1, 2 (with noise), report
    1 all six in a shuffled order. The plan must send each observation to its own query and the
    queries report 0 does not need (0, 3, 5) to the dustbin — padding must stay untouched."""
    g = torch.Generator().manual_seed(2)
    basis = torch.linalg.qr(torch.randn(16, 6, generator=g, dtype=DTYPE))[0].T  # [6, 16] orthonormal
    visual = basis.expand(2, 6, 16)
    truth = [[4, 1, 2], [3, 0, 5, 1, 4, 2]]
    text = torch.zeros(2, 6, 16, dtype=DTYPE)
    for b, queries in enumerate(truth):
        noise = 0.1 * torch.randn(len(queries), 16, generator=g, dtype=DTYPE)
        text[b, : len(queries)] = F.normalize(basis[queries] + noise, dim=-1)
    text[0, 3:] = basis[[0, 3, 5]]  # padded slots that would match the spare queries perfectly
    mask = _lengths_mask([3, 6], 6)
    plan = observation_plan(torch.einsum("bqd,btd->bqt", visual, text), mask)
    for b, queries in enumerate(truth):
        columns = plan[b, :, : len(queries)]
        assert columns.argmax(dim=0).tolist() == queries
        assert (columns.max(dim=0).values > 0.9).all()
    assert (plan[0, [0, 3, 5], -1] > 0.9).all()
    assert plan[0, :, 3:6].max() == 0
    matched = matched_visual(visual, plan)
    assert (torch.einsum("td,td->t", matched[0, :3], basis[[4, 1, 2]]) > 0.95).all()
    assert matched[0, 3:].abs().max() == 0


# --- the loss ---------------------------------------------------------------------------------


def _batch(seed: int):
    visual = _unit(3, 4, 8, seed=seed).requires_grad_()
    text = _unit(3, 5, 8, seed=seed + 1).requires_grad_()
    mask = _lengths_mask([3, 5, 1], 5)
    log_scale = torch.tensor(math.log(1 / INIT_TEMPERATURE), dtype=DTYPE, requires_grad=True)
    return visual, text, mask, log_scale


@pytest.mark.parametrize("with_keys", [False, True])
def test_pcma_loss_matches_slow_twin_values_and_gradients(with_keys):
    visual, text, mask, log_scale = _batch(seed=3)
    keys = torch.arange(15).view(3, 5)
    keys[2, 0] = keys[0, 1]  # the same text in two reports: never each other's negative
    keys[1, 4] = keys[1, 2]  # and twice in one report
    keys = keys if with_keys else None
    inputs = (visual, text, log_scale)
    fast = pcma_loss(visual, text, mask, log_scale, keys=keys)
    slow = slow_pcma(visual, text, mask, log_scale, keys=keys)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    for gf, gs in zip(torch.autograd.grad(fast, inputs), torch.autograd.grad(slow, inputs)):
        torch.testing.assert_close(gf, gs, atol=1e-5, rtol=1e-5)


def test_the_same_observation_in_two_reports_is_not_its_own_negative():
    """Reports 0 and 2 share image features and one sentence: without keys each copy is a negative
    as good as the positive (+log 2 on its rows, in both directions), with keys it is masked out."""
    visual = _unit(3, 4, 16, seed=5)
    visual[2] = visual[0]
    text = visual[:, [1, 3, 0, 2]].clone()  # each observation is one of its image's queries
    mask = _lengths_mask([3, 4, 1], 4)  # so report 2 observes exactly report 0's first sentence
    log_scale = torch.tensor(math.log(1 / INIT_TEMPERATURE), dtype=DTYPE)
    keys = torch.arange(12).view(3, 4)
    keys[2, 0] = keys[0, 0]
    with_keys = pcma_loss(visual, text, mask, log_scale, keys=keys)
    without = pcma_loss(visual, text, mask, log_scale)
    n = int(mask.sum())
    assert without - with_keys > 2 * math.log(2) / n * 0.9  # two of the n rows lose a perfect confuser


def test_padded_observations_get_no_gradient_and_change_nothing():
    visual, text, mask, log_scale = _batch(seed=7)
    loss = pcma_loss(visual, text, mask, log_scale)
    (grad_text,) = torch.autograd.grad(loss, text)
    assert grad_text[~mask].abs().max() == 0
    assert grad_text[mask].abs().sum(dim=-1).min() > 0
    changed = text.detach().clone()
    changed[~mask] = visual.detach()[:, :1].expand(3, 5, 8)[~mask]  # padding = a perfect match
    torch.testing.assert_close(pcma_loss(visual, changed, mask, log_scale), loss)


def test_aligned_observations_score_lower_than_misaligned():
    visual = _unit(4, 6, 16, seed=9)
    text = visual[:, [2, 0, 5]].clone()  # each report observes three of its image's queries
    mask = torch.ones(4, 3, dtype=torch.bool)
    log_scale = torch.tensor(math.log(1 / INIT_TEMPERATURE), dtype=DTYPE)
    aligned = pcma_loss(visual, text, mask, log_scale)
    misaligned = pcma_loss(visual, text.roll(1, dims=0), mask, log_scale)
    assert aligned < 0.05 < 1.0 < misaligned


def test_pcma_loss_refuses_a_batch_without_observations():
    visual, text, _, log_scale = _batch(seed=11)
    with pytest.raises(ValueError, match="no observation"):
        pcma_loss(visual, text, torch.zeros(3, 5, dtype=torch.bool), log_scale)

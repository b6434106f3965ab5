"""Each pretraining loss against a slow, obviously-correct loop twin (values and gradients), its
mask handling, and the cross-rank gather under a real two-process gloo group."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pretrain.model.losses import (
    INIT_TEMPERATURE,
    MAX_LOGIT_SCALE,
    global_loss,
    local_loss,
    logit_scale,
    perturbation_accuracy,
    perturbation_loss,
)

#: fast vs slow compare at 1e-5 in float64, free of float32 rounding noise.
DTYPE = torch.float64


def _unit(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=DTYPE), dim=-1).requires_grad_()


def _log_scale(value: float = math.log(1 / INIT_TEMPERATURE)) -> torch.Tensor:
    return torch.tensor(value, dtype=DTYPE).requires_grad_()


def _grads(loss: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, tensors))


def _assert_same(fast: torch.Tensor, slow: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> None:
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    for gf, gs in zip(_grads(fast, *inputs), _grads(slow, *inputs)):
        torch.testing.assert_close(gf, gs, atol=1e-5, rtol=1e-5)


# --- slow twins -------------------------------------------------------------------------------


def slow_global(image, text, log_scale):
    scale = log_scale.clamp(0, MAX_LOGIT_SCALE).exp()
    b = image.shape[0]
    total = 0.0
    for i in range(b):
        i2t = torch.stack([scale * (image[i] * text[j]).sum() for j in range(b)])
        t2i = torch.stack([scale * (text[i] * image[j]).sum() for j in range(b)])
        total = total - torch.log_softmax(i2t, 0)[i] - torch.log_softmax(t2i, 0)[i]
    return total / (2 * b)


def slow_pert(image, texts, valid, log_scale):
    scale = log_scale.clamp(0, MAX_LOGIT_SCALE).exp()
    total = 0.0
    for b in range(image.shape[0]):
        logits = torch.stack([scale * (image[b] * texts[b, k]).sum() for k in range(texts.shape[1]) if valid[b, k]])
        total = total - torch.log_softmax(logits, 0)[0]
    return total / image.shape[0]


def slow_local(regions, words, word_mask, temp1=4.0, temp2=5.0, temp3=10.0):
    """GLoRIA's `local_loss` + `attention_fn`, one (report, image) pair at a time."""
    b = regions.shape[0]
    scores = [[None] * b for _ in range(b)]  # scores[image][report]
    for i in range(b):
        word = words[i][word_mask[i]]  # [n, D]: the report's real words only
        for j in range(b):
            context = regions[j]  # [R, D]
            attn = context @ word.T  # [R, n]
            attn = torch.softmax(attn, dim=1)  # across words
            attn = torch.softmax(temp1 * attn.T, dim=1)  # [n, R], across regions
            weighted = attn @ context  # [n, D]
            cos = F.cosine_similarity(word, weighted, dim=1, eps=1e-8)
            scores[j][i] = torch.log(torch.exp(temp2 * cos).sum())
    sim = temp3 * torch.stack([torch.stack(row) for row in scores])
    labels = torch.arange(b)
    return (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2


# --- global -----------------------------------------------------------------------------------


def test_global_loss_matches_slow_twin():
    image, text, log_scale = _unit(6, 8, seed=0), _unit(6, 8, seed=1), _log_scale()
    inputs = (image, text, log_scale)
    _assert_same(global_loss(image, text, log_scale), slow_global(*inputs), inputs)


def test_global_loss_temperature_is_clamped():
    image, text = _unit(4, 8, seed=2), _unit(4, 8, seed=3)
    high = global_loss(image, text, torch.tensor(10.0, dtype=DTYPE))
    assert torch.allclose(high, global_loss(image, text, torch.tensor(MAX_LOGIT_SCALE, dtype=DTYPE)))
    assert logit_scale(torch.tensor(-3.0)).item() == pytest.approx(1.0)


def test_global_loss_is_low_for_aligned_pairs():
    text = _unit(8, 16, seed=4).detach()
    aligned = global_loss(text, text, _log_scale())
    shuffled = global_loss(text.roll(1, 0), text, _log_scale())
    assert aligned < 0.1 < shuffled


# --- perturbation -----------------------------------------------------------------------------


def test_perturbation_loss_matches_slow_twin_with_masks():
    image, texts, log_scale = _unit(5, 8, seed=5), _unit(5, 4, 8, seed=6), _log_scale(2.0)
    valid = torch.tensor(
        [[1, 1, 1, 1], [1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 0, 1], [1, 1, 1, 0]], dtype=torch.bool
    )
    inputs = (image, texts, log_scale)
    _assert_same(perturbation_loss(image, texts, valid, log_scale), slow_pert(image, texts, valid, log_scale), inputs)


def test_invalid_negatives_are_never_scored():
    image, texts, log_scale = _unit(3, 8, seed=7), _unit(3, 3, 8, seed=8), _log_scale()
    valid = torch.tensor([[1, 0, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    base = perturbation_loss(image, texts, valid, log_scale)
    changed = texts.detach().clone()
    changed[~valid] = image.detach()[torch.nonzero(~valid)[:, 0]]  # an invalid text = a perfect match
    assert torch.allclose(perturbation_loss(image, changed, valid, log_scale), base)
    (grad,) = _grads(base, texts)
    assert grad[~valid].abs().max() == 0
    negatives = valid.clone()
    negatives[:, 0] = False
    assert (grad[negatives].abs().sum(dim=-1) > 0).all()


def test_image_without_valid_negatives_adds_nothing():
    image, texts = _unit(2, 8, seed=9), _unit(2, 3, 8, seed=10)
    valid = torch.tensor([[1, 0, 0], [1, 0, 0]], dtype=torch.bool)
    assert perturbation_loss(image, texts, valid, _log_scale()).item() == 0.0


def test_perturbation_loss_rejects_invalid_original():
    image, texts = _unit(2, 8, seed=9), _unit(2, 3, 8, seed=10)
    with pytest.raises(ValueError, match="column 0"):
        perturbation_loss(image, texts, torch.zeros(2, 3, dtype=torch.bool), _log_scale())


def test_perturbation_accuracy_counts_original_first():
    image = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=1)
    texts = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    valid = torch.ones(2, 2, dtype=torch.bool)
    assert perturbation_accuracy(image, texts, valid).item() == 0.5


# --- local ------------------------------------------------------------------------------------


def _local_inputs(b=4, r=6, w=5, d=8, seed=11):
    regions, words = _unit(b, r, d, seed=seed), _unit(b, w, d, seed=seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    mask = torch.rand(b, w, generator=g) < 0.7
    mask[:, 0] = True
    return regions, words, mask


@pytest.mark.parametrize("chunk_size", [None, 1, 3])
def test_local_loss_matches_glorias_loop(chunk_size):
    regions, words, mask = _local_inputs()
    inputs = (regions, words)
    _assert_same(local_loss(regions, words, mask, chunk_size=chunk_size), slow_local(regions, words, mask), inputs)


def test_local_loss_handles_unnormalised_features_and_other_temperatures():
    regions, words, mask = _local_inputs(seed=21)
    regions2 = (regions * 3).detach().requires_grad_()
    words2 = (words * 0.5).detach().requires_grad_()
    fast = local_loss(regions2, words2, mask, temp1=2.0, temp2=3.0, temp3=7.0)
    _assert_same(fast, slow_local(regions2, words2, mask, 2.0, 3.0, 7.0), (regions2, words2))


def test_local_loss_ignores_padded_words():
    regions, words, mask = _local_inputs(seed=31)
    base = local_loss(regions, words, mask)
    noisy = words.detach().clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), words.shape[-1], dtype=DTYPE) * 100
    assert torch.allclose(local_loss(regions, noisy, mask), base)
    (grad,) = _grads(base, words)
    assert grad[~mask].abs().max() == 0


def test_local_loss_needs_a_word_per_report():
    regions, words, mask = _local_inputs()
    mask[1] = False
    with pytest.raises(ValueError, match="at least one word"):
        local_loss(regions, words, mask)


# --- DDP: a real two-process gloo group --------------------------------------------------------


def _ddp_worker(rank: int, world: int, folder: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=rank, world_size=world)
    try:
        proj, x_img, x_txt = _ddp_problem()
        n = x_img.shape[0] // world
        part = slice(rank * n, (rank + 1) * n)
        loss = global_loss(F.normalize(proj(x_img[part]), dim=1), F.normalize(x_txt[part], dim=1), proj.log_scale)
        loss.backward()
        for p in proj.parameters():  # what DistributedDataParallel does: the mean over ranks
            dist.all_reduce(p.grad)
            p.grad /= world
        if rank == 0:
            torch.save([p.grad for p in proj.parameters()], f"{folder}/grads.pt")
    finally:
        dist.destroy_process_group()


def _ddp_problem():
    g = torch.Generator().manual_seed(0)
    proj = torch.nn.Linear(6, 6, dtype=DTYPE)
    with torch.no_grad():
        proj.weight.copy_(torch.randn(6, 6, generator=g))
        proj.bias.copy_(torch.randn(6, generator=g))
    proj.log_scale = torch.nn.Parameter(torch.tensor(2.0, dtype=DTYPE))
    return proj, torch.randn(8, 6, generator=g, dtype=DTYPE), torch.randn(8, 6, generator=g, dtype=DTYPE)


def test_global_loss_under_ddp_gives_the_single_process_gradient(tmp_path):
    """Two ranks with 4 samples each, gradients averaged as DDP does, equal one process with 8."""
    import torch.multiprocessing as mp

    # spawn: a fork would deadlock on the parent's OpenMP pool
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path)), nprocs=2, start_method="spawn")
    ddp_grads = torch.load(tmp_path / "grads.pt")
    proj, x_img, x_txt = _ddp_problem()
    global_loss(F.normalize(proj(x_img), dim=1), F.normalize(x_txt, dim=1), proj.log_scale).backward()
    for ddp, single in zip(ddp_grads, proj.parameters()):
        torch.testing.assert_close(ddp, single.grad, atol=1e-10, rtol=1e-8)

"""The HybridMED loss terms: chunked vocabulary losses equal the plain ones (values and
gradients), section masking with counts, the reused alignment losses, gradient flow, and the
distillation teacher receiving no gradient."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pretrain.hybridmed.decoder import IGNORE_INDEX, ImpressionDecoder, teacher_forcing
from pretrain.hybridmed.sections import term_rows
from pretrain.hybridmed.terms import (
    distillation_term,
    findings_local_term,
    generation_term,
    impression_global_term,
    teacher_hidden,
)
from pretrain.hybridmed.vocab_loss import token_cross_entropy, token_distillation
from pretrain.model.losses import global_loss, local_loss

DTYPE = torch.float64


def _hidden_and_targets(seed: int = 0, n: int = 3, length: int = 9, dim: int = 6, vocab: int = 23):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, length, dim, generator=g, dtype=DTYPE).requires_grad_()
    weight = torch.randn(vocab, dim, generator=g, dtype=DTYPE).requires_grad_()
    bias = torch.randn(vocab, generator=g, dtype=DTYPE).requires_grad_()
    targets = torch.randint(0, vocab, (n, length), generator=g)
    targets[0, 5:] = IGNORE_INDEX  # padding of a short impression
    targets[2, 2:] = IGNORE_INDEX
    return hidden, weight, bias, targets


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_chunked_cross_entropy_equals_the_plain_one_with_gradients(chunk):
    hidden, weight, bias, targets = _hidden_and_targets()
    plain = F.cross_entropy((hidden @ weight.T + bias).reshape(-1, weight.shape[0]), targets.reshape(-1),
                            ignore_index=IGNORE_INDEX)
    chunked = token_cross_entropy(hidden, weight, bias, targets, chunk_tokens=chunk)
    torch.testing.assert_close(chunked, plain)
    for a, b in zip(torch.autograd.grad(chunked, (hidden, weight, bias)), torch.autograd.grad(plain, (hidden, weight, bias))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_chunked_distillation_equals_temperature_scaled_kl_with_gradients(chunk):
    student, weight, bias, targets = _hidden_and_targets(seed=1)
    teacher = torch.randn(student.shape, dtype=DTYPE, generator=torch.Generator().manual_seed(2)).requires_grad_()
    t = 2.0
    scored = targets != IGNORE_INDEX
    log_s = F.log_softmax((student @ weight.T + bias) / t, dim=-1)[scored]
    p_t = F.softmax((teacher @ weight.T + bias) / t, dim=-1)[scored].detach()
    plain = t**2 * (p_t * (p_t.log() - log_s)).sum(dim=-1).mean()
    chunked = token_distillation(student, teacher, weight, bias, targets, temperature=t, chunk_tokens=chunk)
    torch.testing.assert_close(chunked, plain)
    grads = torch.autograd.grad(chunked, (student, weight, bias, teacher), allow_unused=True)
    for a, b in zip(grads[:3], torch.autograd.grad(plain, (student, weight, bias))):
        torch.testing.assert_close(a, b)
    assert grads[3] is None  # nothing reaches the teacher's states


def test_distillation_of_a_student_equal_to_its_teacher_is_zero():
    hidden, weight, bias, targets = _hidden_and_targets()
    loss = token_distillation(hidden, hidden.detach().clone(), weight, bias, targets, temperature=3.0)
    assert abs(loss.item()) < 1e-12
    with pytest.raises(ValueError, match="temperature"):
        token_distillation(hidden, hidden, weight, bias, targets, temperature=0.0)


def test_vocabulary_losses_over_no_scored_token_are_an_attached_zero():
    hidden, weight, bias, targets = _hidden_and_targets()
    none = torch.full_like(targets, IGNORE_INDEX)
    for loss in (token_cross_entropy(hidden, weight, bias, none),
                 token_distillation(hidden, hidden, weight, bias, none, temperature=2.0)):
        assert loss.item() == 0.0 and loss.requires_grad


def test_term_rows_follow_the_sections_each_term_reads():
    has_findings = torch.tensor([True, True, False, True, False])
    has_impression = torch.tensor([True, False, True, True, False])
    rows = term_rows(has_findings, has_impression)
    assert rows["cg"].tolist() == rows["cap"].tolist() == [True, False, True, True, False]
    assert rows["cl"].tolist() == [True, True, False, True, False]
    assert rows["sum"].tolist() == rows["dis"].tolist() == [True, False, False, True, False]


def _unit(*shape, seed):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE), dim=-1)


def test_impression_global_term_is_global_loss_over_the_records_with_an_impression():
    image, text = _unit(5, 8, seed=0).requires_grad_(), _unit(5, 8, seed=1).requires_grad_()
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=DTYPE)
    rows = torch.tensor([True, False, True, True, False])
    value = impression_global_term(image, text, rows, log_scale)
    assert value.used == 3
    torch.testing.assert_close(value.loss, global_loss(image[rows], text[rows], log_scale))
    (grad,) = torch.autograd.grad(value.loss, image)
    assert grad[~rows].abs().sum() == 0 and grad[rows].abs().sum() > 0
    one = impression_global_term(image, text, torch.tensor([True, False, False, False, False]), log_scale)
    assert one.used == 0 and one.loss.item() == 0.0 and one.loss.requires_grad


def test_findings_local_term_is_the_local_loss_over_the_records_with_findings():
    regions, words = _unit(4, 6, 8, seed=2).requires_grad_(), _unit(4, 5, 8, seed=3).requires_grad_()
    word_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    rows = torch.tensor([True, True, True, False])  # the last record has no findings (and no words)
    value = findings_local_term(regions, words, word_mask, rows)
    assert value.used == 3
    torch.testing.assert_close(value.loss, local_loss(regions[:3], words[:3], word_mask[:3]))


@pytest.fixture()
def decoder():
    torch.manual_seed(0)
    return ImpressionDecoder(30, {"caption": 6, "summary": 7}, pad_id=0, bos_id=1, eos_id=2, dim=16, layers=2,
                             heads=2, ffn_dim=32, max_positions=16, dropout=0.1)


def _batch(n: int = 4, seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 30, (n, 8), generator=g)
    ids[:, 0] = 1
    mask = torch.ones(n, 8, dtype=torch.long)
    ids[1, 5], ids[1, 6:], mask[1, 6:] = 2, 0, 0  # a shorter impression, padded
    ids[:, -1] = torch.where(mask[:, -1].bool(), 2, ids[:, -1])
    image = torch.randn(n, 5, 6, generator=g).requires_grad_()
    findings = torch.randn(n, 9, 7, generator=g).requires_grad_()
    findings_mask = torch.ones(n, 9, dtype=torch.bool)
    findings_mask[2, 4:] = False
    return ids, mask, image, findings, findings_mask


def test_generation_terms_reach_their_branch_and_memory_and_skip_records_without_impression(decoder):
    ids, mask, image, findings, findings_mask = _batch()
    inputs, targets = teacher_forcing(ids, mask)
    rows = torch.tensor([True, True, False, True])
    cap = generation_term(decoder, decoder.hidden("caption", inputs, image), targets, rows)
    assert cap.used == 3 and cap.loss.ndim == 0 and math.log(30) / 3 < cap.loss.item() < 3 * math.log(30)
    cap.loss.backward()
    assert image.grad[rows].abs().sum() > 0 and image.grad[2].abs().sum() == 0
    assert decoder.layers[0].cross["caption"].attn.in_proj_weight.grad is not None
    assert decoder.layers[0].cross["summary"].attn.in_proj_weight.grad is None
    summary = generation_term(decoder, decoder.hidden("summary", inputs, findings, findings_mask), targets, rows)
    summary.loss.backward()
    assert findings.grad.abs().sum() > 0 and decoder.layers[0].cross["summary"].attn.in_proj_weight.grad is not None
    nothing = generation_term(decoder, decoder.hidden("caption", inputs, image), targets, torch.zeros(4, dtype=torch.bool))
    assert nothing.used == 0 and nothing.loss.item() == 0.0


def test_teacher_states_carry_no_gradient_and_no_dropout_noise(decoder):
    ids, mask, _, findings, findings_mask = _batch()
    inputs, _ = teacher_forcing(ids, mask)
    decoder.train()
    first = teacher_hidden(decoder, inputs, findings, findings_mask)
    second = teacher_hidden(decoder, inputs, findings, findings_mask)
    assert not first.requires_grad and decoder.training
    torch.testing.assert_close(first, second)  # dropout is on in train mode, yet the teacher is deterministic


def test_distillation_trains_the_captioning_branch_and_leaves_the_teacher_untouched(decoder):
    ids, mask, image, findings, findings_mask = _batch()
    inputs, targets = teacher_forcing(ids, mask)
    rows = torch.tensor([True, False, True, True])
    student = decoder.hidden("caption", inputs, image)
    value = distillation_term(decoder, student, teacher_hidden(decoder, inputs, findings, findings_mask), targets, rows,
                              temperature=2.0)
    assert value.used == 3 and value.loss.item() > 0
    value.loss.backward()
    assert findings.grad is None  # the teacher's input is not trained through the teacher
    for name, p in decoder.named_parameters():
        if ".summary." in name:
            assert p.grad is None, name
    assert decoder.layers[1].cross["caption"].attn.out_proj.weight.grad.abs().sum() > 0
    assert image.grad[rows].abs().sum() > 0 and image.grad[1].abs().sum() == 0

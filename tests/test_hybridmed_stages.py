"""Both HybridMED stages at the decoder's scale, on real impressions and the real tokenizer:
stage 1 teaches the summarisation branch four impressions from their findings features; stage 2,
with that branch frozen, teaches the captioning branch the same impressions from image features
by distillation alone — so greedy captions reproduce what only the teacher was taught."""

from __future__ import annotations

import torch

from pretrain.model.text import tokenize_reports
from pretrain.model.encoders import load_tokenizer
from pretrain.hybridmed.decoder import ImpressionDecoder, parameter_branch, teacher_forcing
from pretrain.hybridmed.decoding import greedy_decode
from pretrain.hybridmed.terms import distillation_term, generation_term, teacher_hidden

IMPRESSIONS = [
    "No acute cardiopulmonary abnormality.",
    "Small right pleural effusion.",
    "Stable cardiomegaly without pulmonary edema.",
    "Left lower lobe atelectasis.",
]


def _train(decoder, parameters, loss_fn, steps: int) -> float:
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_summarisation_then_distillation_into_captioning_reproduces_the_impressions():
    torch.manual_seed(0)
    tokenizer = load_tokenizer("minilm")
    batch = tokenize_reports(tokenizer, IMPRESSIONS, 32)
    inputs, targets = teacher_forcing(batch["input_ids"], batch["attention_mask"])
    findings = torch.randn(4, 6, 12)  # stand-ins for each record's findings token features
    image = torch.randn(4, 5, 10)  # and for its image tokens: unrelated to the findings
    decoder = ImpressionDecoder(len(tokenizer), {"caption": 10, "summary": 12}, pad_id=tokenizer.pad_token_id,
                                bos_id=tokenizer.cls_token_id, eos_id=tokenizer.sep_token_id, dim=16, layers=1,
                                heads=2, ffn_dim=32, max_positions=32, dropout=0.0)
    rows = torch.ones(4, dtype=torch.bool)

    summary_params = [p for n, p in decoder.named_parameters() if parameter_branch(n) != "caption"]
    sum_loss = _train(decoder, summary_params,
                      lambda: generation_term(decoder, decoder.hidden("summary", inputs, findings), targets, rows).loss, 60)
    assert sum_loss < 0.05

    def decoded(branch, memory):
        ids = greedy_decode(decoder.eval(), branch, memory, max_new_tokens=24)
        decoder.train()
        return tokenizer.batch_decode(ids, skip_special_tokens=True)

    expected = [tokenizer.decode(tokenizer(t)["input_ids"], skip_special_tokens=True) for t in IMPRESSIONS]
    assert decoded("summary", findings) == expected
    assert decoded("caption", image) != expected  # the captioning branch has learnt nothing yet

    for name, p in decoder.named_parameters():  # stage 2: the teacher (shared + summary) frozen
        p.requires_grad_(parameter_branch(name) == "caption")
    teacher = teacher_hidden(decoder, inputs, findings, None)
    caption_params = [p for p in decoder.parameters() if p.requires_grad]
    frozen = {n: p.detach().clone() for n, p in decoder.named_parameters() if not p.requires_grad}
    dis_loss = _train(decoder, caption_params, lambda: distillation_term(
        decoder, decoder.hidden("caption", inputs, image), teacher, targets, rows, temperature=2.0).loss, 120)
    assert dis_loss < 0.05
    assert all(torch.equal(p, frozen[n]) for n, p in decoder.named_parameters() if n in frozen)
    assert decoded("caption", image) == expected

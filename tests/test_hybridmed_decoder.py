"""The HybridMED decoder: shapes, causality, memory masking, the two branches sharing their
self-attention and feed-forward weights (the same objects), teacher forcing on the real
tokenizer, greedy and beam decoding."""

from __future__ import annotations

import itertools

import pytest
import torch

from pretrain.hybridmed.decoder import BRANCHES, IGNORE_INDEX, ImpressionDecoder, parameter_branch, teacher_forcing
from pretrain.hybridmed.decoding import beam_decode, greedy_decode

VOCAB, PAD, BOS, EOS = 40, 0, 1, 2
MEMORY = {"caption": 6, "summary": 10}


def make_decoder(seed: int = 0, dropout: float = 0.0, vocab: int = VOCAB) -> ImpressionDecoder:
    torch.manual_seed(seed)
    return ImpressionDecoder(vocab, MEMORY, pad_id=PAD, bos_id=BOS, eos_id=EOS, dropout=dropout,
                             dim=16, layers=2, heads=2, ffn_dim=32, max_positions=12)


def memories(n: int = 3, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {b: torch.randn(n, 5, MEMORY[b], generator=g) for b in BRANCHES}


def inputs(n: int = 3, length: int = 7, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (n, length), generator=g)
    ids[:, 0] = BOS
    return ids


def test_hidden_and_logits_shapes():
    decoder = make_decoder()
    hidden = decoder.hidden("caption", inputs(), memories()["caption"])
    assert hidden.shape == (3, 7, 16)
    assert decoder.logits(hidden).shape == (3, 7, VOCAB)
    assert decoder.output_weight is decoder.token_embedding.weight


def test_shared_layers_are_the_same_parameter_objects_in_both_branches():
    decoder = make_decoder()
    caption = {id(p): p for p in decoder.branch_parameters("caption")}
    summary = {id(p): p for p in decoder.branch_parameters("summary")}
    shared = caption.keys() & summary.keys()
    every = {id(p) for p in decoder.parameters()}
    assert caption.keys() | summary.keys() == every
    for layer in decoder.layers:  # self-attention and feed-forward of every layer are in both branches
        for module in (layer.self_attn, layer.ffn, layer.self_norm, layer.ffn_norm):
            assert all(id(p) in shared for p in module.parameters())
        for branch, other in (("caption", "summary"), ("summary", "caption")):
            own = {id(p) for p in layer.cross[branch].parameters()}
            assert own and not own & shared and not own & {id(p) for p in decoder.branch_parameters(other)}
    assert {parameter_branch(n) for n, _ in decoder.named_parameters()} == {"shared", *BRANCHES}


def test_each_branch_trains_the_shared_layers_and_only_its_own_cross_attention():
    decoder = make_decoder()
    mem, ids = memories(), inputs()
    for branch, other in (("caption", "summary"), ("summary", "caption")):
        decoder.zero_grad(set_to_none=True)
        decoder.logits(decoder.hidden(branch, ids, mem[branch])).square().mean().backward()
        for name, p in decoder.named_parameters():
            group = parameter_branch(name)
            if group == other:
                assert p.grad is None, name
            else:
                assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_a_shared_weight_change_moves_both_branches_a_branch_weight_only_its_own():
    decoder = make_decoder()
    mem, ids = memories(), inputs()
    before = {b: decoder.hidden(b, ids, mem[b]).detach() for b in BRANCHES}
    with torch.no_grad():
        decoder.layers[0].ffn[0].weight.add_(0.5)
    after_shared = {b: decoder.hidden(b, ids, mem[b]).detach() for b in BRANCHES}
    assert all(not torch.allclose(before[b], after_shared[b]) for b in BRANCHES)
    with torch.no_grad():
        decoder.layers[0].cross["caption"].attn.out_proj.weight.add_(0.5)
    assert not torch.allclose(after_shared["caption"], decoder.hidden("caption", ids, mem["caption"]))
    torch.testing.assert_close(after_shared["summary"], decoder.hidden("summary", ids, mem["summary"]))


def test_decoder_is_causal():
    decoder = make_decoder()
    mem, ids = memories()["caption"], inputs()
    changed = ids.clone()
    changed[:, 4:] = 3
    torch.testing.assert_close(decoder.hidden("caption", ids, mem)[:, :4], decoder.hidden("caption", changed, mem)[:, :4])


def test_masked_memory_positions_are_ignored():
    decoder = make_decoder()
    mem, ids = memories()["summary"], inputs()
    mask = torch.ones(3, 5, dtype=torch.bool)
    padded = torch.cat([mem, 100 * torch.randn(3, 4, MEMORY["summary"])], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(decoder.hidden("summary", ids, mem, mask),
                               decoder.hidden("summary", ids, padded, padded_mask))


def test_inputs_longer_than_max_positions_are_refused():
    with pytest.raises(ValueError, match="max_positions"):
        make_decoder().hidden("caption", inputs(length=13), memories()["caption"])
    with pytest.raises(ValueError, match="branch"):
        make_decoder().hidden("report", inputs(), memories()["caption"])


def test_teacher_forcing_shifts_the_tokenized_impression():
    from pretrain.model.text import tokenize_reports
    from pretrain.model.encoders import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    batch = tokenize_reports(tokenizer, ["No acute disease.", "Small left pleural effusion."], 16)
    decoder_in, targets = teacher_forcing(batch["input_ids"], batch["attention_mask"])
    assert (decoder_in[:, 0] == tokenizer.cls_token_id).all()
    first = batch["input_ids"][0][batch["attention_mask"][0].bool()]  # [CLS] no acute disease . [SEP]
    assert targets[0, : len(first) - 1].tolist() == first[1:].tolist()
    assert targets[0, len(first) - 2] == tokenizer.sep_token_id
    assert (targets[0, len(first) - 1 :] == IGNORE_INDEX).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_with_one_beam_is_greedy_decoding(seed):
    decoder = make_decoder(seed).eval()
    memory = memories(4, seed=seed)["caption"]
    greedy = greedy_decode(decoder, "caption", memory, max_new_tokens=10)
    torch.testing.assert_close(beam_decode(decoder, "caption", memory, beam_size=1, max_new_tokens=10), greedy)


def test_decoding_stops_at_eos_pads_after_it_and_keeps_the_length_limit():
    decoder = make_decoder().eval()
    with torch.no_grad():  # make EOS the likeliest token after two steps: position 2 favours it
        decoder.position_embedding.weight[2] += 4 * decoder.token_embedding.weight[EOS]
    memory = memories()["caption"]
    for out in (greedy_decode(decoder, "caption", memory, max_new_tokens=10),
                beam_decode(decoder, "caption", memory, beam_size=3, max_new_tokens=10)):
        assert out.shape[1] <= 10
        for row in out.tolist():
            if EOS in row:
                assert all(t == PAD for t in row[row.index(EOS) + 1 :])
    short = greedy_decode(make_decoder().eval(), "caption", memory, max_new_tokens=3)
    assert short.shape == (3, 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_decode(decoder, "caption", memory, max_new_tokens=12)


def _sequence_log_prob(decoder, memory, sequence: list[int]) -> float:
    prefix = torch.tensor([[BOS, *sequence]])
    log_probs = torch.log_softmax(decoder.logits(decoder.hidden("caption", prefix[:, :-1], memory)), dim=-1)
    return float(log_probs[0, torch.arange(len(sequence)), torch.tensor(sequence)].sum())


def test_a_beam_as_wide_as_the_search_space_finds_the_most_probable_impression():
    vocab, limit = 5, 3
    decoder = make_decoder(4, vocab=vocab).eval()
    memory = memories(2, seed=4)["caption"]
    beam = beam_decode(decoder, "caption", memory, beam_size=vocab ** (limit - 1), max_new_tokens=limit,
                       length_penalty=0.0)
    for i in range(2):
        candidates = [list(s) for n in range(1, limit + 1) for s in itertools.product(range(vocab), repeat=n)
                      if EOS not in s[:-1] and (s[-1] == EOS or n == limit)]
        with torch.no_grad():
            best = max(candidates, key=lambda s: _sequence_log_prob(decoder, memory[i : i + 1], s))
        found = beam[i].tolist()
        found = found[: found.index(EOS) + 1] if EOS in found else found
        assert found == best

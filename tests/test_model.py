"""PretrainModel: contract shapes, word pooling against a loop, encoder variants, checkpointing."""

from __future__ import annotations

import pytest
import torch

from pretrain.model.dual_encoder import build_model, masked_mean, pool_words
from pretrain.model.encoders import (EncoderError, ImageEncoder, TextEncoder, build_image_backbone, minilm_dir,
                                     resolve_local)
from pretrain.train.config import TrainConfig


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = TrainConfig(image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=64)
    return build_model(config)


def _text_batch(tokenizer, texts):
    from pretrain.model.text import tokenize_reports

    return tokenize_reports(tokenizer, texts, 32)


def test_pool_words_sums_pieces_like_a_loop():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(3, 7, 4, generator=g, dtype=torch.float64)
    word_ids = torch.tensor([[-1, 0, 1, 1, 2, -1, -1], [-1, 0, 0, 0, -1, -1, -1], [-1, 0, 1, 2, 3, 3, -1]])
    words, mask = pool_words(tokens, word_ids, n_words=4)
    expected = torch.zeros(3, 4, 4, dtype=torch.float64)
    for n in range(3):
        for t in range(7):
            if word_ids[n, t] >= 0:
                expected[n, word_ids[n, t]] += tokens[n, t]
    torch.testing.assert_close(words, expected)
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]


def test_masked_mean_ignores_padding():
    tokens = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(tokens, torch.tensor([[1, 1, 0]])).item() == 2.0


def test_encode_image_contract(tiny):
    model, _ = tiny
    global_features, local_features = model.encode_image(torch.randn(2, 3, 64, 64))
    assert global_features.shape == (2, 16)
    assert local_features.shape == (2, 16, 16)  # stage 3 of 64 px: 4×4 regions
    torch.testing.assert_close(global_features.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(local_features.norm(dim=-1), torch.ones(2, 16))


def test_encode_text_contract_and_word_features(tiny):
    model, tokenizer = tiny
    model.eval()
    batch = _text_batch(tokenizer, ["Mild cardiomegaly.", "No pleural effusion or pneumothorax seen."])
    global_features, words, word_mask = model.encode_text(**batch)
    assert global_features.shape == (2, 16)
    n_words = [3, 7]  # "mild cardiomegaly ." / "no pleural effusion or pneumothorax seen ."
    assert words.shape == (2, 7, 16) and word_mask.sum(dim=1).tolist() == n_words
    with torch.no_grad():  # word 1 of text 0 ("cardiomegaly") is several pieces, summed then projected
        tokens = model.text_encoder(batch["input_ids"], batch["attention_mask"])
        pieces = tokens[0][batch["word_ids"][0] == 1]
        assert len(pieces) > 1
        expected = torch.nn.functional.normalize(model.text_local_head(pieces.sum(0)), dim=0)
    torch.testing.assert_close(words[0, 1], expected)
    assert (words[0, 3:] == 0).all() or not word_mask[0, 3:].any()


def test_text_features_sum_the_last_layers(tiny):
    model, tokenizer = tiny
    batch = _text_batch(tokenizer, ["The lungs are clear."])
    encoder = model.text_encoder
    out = encoder.backbone(batch["input_ids"], batch["attention_mask"], output_hidden_states=True)
    expected = out.hidden_states[-1] + out.hidden_states[-2]  # tiny-bert has 2 layers
    torch.testing.assert_close(encoder(batch["input_ids"], batch["attention_mask"]), expected)


def test_forward_encodes_all_variants_once(tiny):
    model, tokenizer = tiny
    texts = ["Heart normal.", "Normal heart.", "Lungs clear.", "Clear lungs."]
    batch = {k: v.view(2, 2, -1) for k, v in _text_batch(tokenizer, texts).items()}
    out = model(torch.randn(2, 3, 64, 64), batch["input_ids"], batch["attention_mask"], batch["word_ids"])
    assert out["image_global"].shape == (2, 16) and out["text_global"].shape == (2, 2, 16)
    assert out["words"].shape[0] == 2 and out["word_mask"].shape == out["words"].shape[:2]
    model.eval()
    with torch.no_grad():
        alone, _, _ = model.encode_text(*(_text_batch(tokenizer, texts[2:3])[k] for k in ("input_ids", "attention_mask", "word_ids")))
        out = model(torch.randn(2, 3, 64, 64), batch["input_ids"], batch["attention_mask"], batch["word_ids"], need_local=False)
    torch.testing.assert_close(out["text_global"][1, 0], alone[0], atol=1e-5, rtol=1e-5)
    assert "words" not in out


def test_length_buckets_change_nothing_but_the_padding(tiny):
    model, tokenizer = tiny
    model.eval()
    texts = ["No effusion.", "The heart is normal in size and the lungs are clear.", "Mild cardiomegaly.",
             "Degenerative changes of the thoracic spine without acute fracture.", "Clear lungs.", "Normal."]
    batch = _text_batch(tokenizer, texts)
    encoder = model.text_encoder
    with torch.no_grad():
        encoder.buckets = 1
        padded = model.encode_text(**batch)
        tokens_padded = encoder(batch["input_ids"], batch["attention_mask"])
        encoder.buckets = 4
        bucketed = model.encode_text(**batch)
        tokens_bucketed = encoder(batch["input_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(tokens_bucketed[real], tokens_padded[real], atol=1e-5, rtol=1e-5)
    assert (tokens_bucketed[5, 4:] == 0).all()  # "Normal." was encoded in a group cut to its 4 tokens
    for a, b in zip(bucketed, padded):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_vit_patch_tokens_are_local_features():
    encoder = ImageEncoder(build_image_backbone("tiny-vit", image_size=32))
    global_features, local_features = encoder(torch.randn(2, 3, 32, 32))
    assert global_features.shape == (2, 32) and local_features.shape == (2, 16, 32)


@pytest.mark.parametrize("name", ["tiny-resnet", "tiny-vit"])
def test_gradient_checkpointing_keeps_gradients(name):
    torch.manual_seed(0)
    encoder = ImageEncoder(build_image_backbone(name, image_size=32)).double()
    images = torch.randn(2, 3, 32, 32, dtype=torch.float64)

    def grads():
        encoder.zero_grad()
        g, l = encoder(images)
        (g.square().sum() + l.sin().sum()).backward()
        return [p.grad.clone() for p in encoder.parameters() if p.grad is not None]

    plain = grads()
    encoder.enable_gradient_checkpointing()
    assert encoder.checkpointing if encoder.is_resnet else encoder.backbone.is_activation_checkpointing
    for a, b in zip(plain, grads(), strict=True):
        torch.testing.assert_close(a, b)


def test_minilm_alias_is_a_local_directory():
    path = resolve_local("minilm")
    assert path == minilm_dir() and resolve_local("all-MiniLM-L6-v2") == path
    with pytest.raises(EncoderError, match="nor a local model directory"):
        resolve_local("bert-base-uncased")


def test_minilm_loads_pretrained_weights():
    from transformers import AutoModel

    config = TrainConfig(image_encoder="tiny-resnet", text_encoder="minilm", embed_dim=8, image_size=32)
    model, tokenizer = build_model(config)
    reference = AutoModel.from_pretrained(minilm_dir())
    ours = dict(model.text_encoder.backbone.named_parameters())
    for name, p in reference.named_parameters():
        if not name.startswith("pooler."):
            assert torch.equal(ours[name], p), name
    assert isinstance(model.text_encoder, TextEncoder) and tokenizer.is_fast

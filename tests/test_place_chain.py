"""The PLACE pieces chained on real (tiny) encoders, as the wiring will call them: which towers each
term trains."""

from __future__ import annotations

import math

import pytest
import torch

from pretrain.train.config import TrainConfig
from pretrain.model.losses import INIT_TEMPERATURE
from pretrain.model.dual_encoder import build_model
from pretrain.place import (
    CorrelationPredictor,
    VisualObservationExtractor,
    correlation_loss,
    gather_observations,
    pcma_loss,
    split_observations,
    tokenize_observations,
)

REPORTS = (
    "Heart size normal. No pleural effusion or pneumothorax.",
    "Mild cardiomegaly. Small left pleural effusion. The lungs are clear.",
    "The lungs are clear.",
)


@pytest.fixture(scope="module")
def chain(parser):
    torch.manual_seed(0)
    model, tokenizer = build_model(TrainConfig(image_encoder="tiny-resnet", text_encoder="tiny-bert",
                                               embed_dim=16, image_size=64))
    vpoe = VisualObservationExtractor(16, 16, n_queries=4, width=16, layers=1, heads=2)
    predictor = CorrelationPredictor(16, width=16, code_dim=8, layers=1, heads=2)
    batch = tokenize_observations(tokenizer, [split_observations(parser.parse(t)) for t in REPORTS])
    return model, vpoe, predictor, batch


def _terms(chain):
    model, vpoe, predictor, batch = chain
    model.zero_grad()
    _, local = model.encode_image(torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    flat, _, _ = model.encode_text(batch["obs_input_ids"], batch["obs_attention_mask"], batch["obs_word_ids"])
    text, mask = gather_observations(flat, batch["obs_slot"])
    visual = vpoe(local)
    log_scale = torch.tensor(math.log(1 / INIT_TEMPERATURE))
    pcma = pcma_loss(visual.embeddings, text, mask, log_scale, keys=batch["obs_key"])
    cce = correlation_loss(predictor(visual.grid, text, mask), local)
    return pcma, cce, visual


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_pcma_trains_both_towers_and_the_vpoe(chain):
    model, vpoe, _, _ = chain
    pcma, _, visual = _terms(chain)
    assert visual.attention_maps().shape == (3, 4, 4, 4)  # stage 3 of 64 px: a 4×4 grid
    pcma.backward()
    assert torch.isfinite(pcma)
    assert _grad_norm(model.image_encoder) > 0 and _grad_norm(model.text_encoder) > 0 and _grad_norm(vpoe) > 0


def test_correlation_exploration_trains_the_text_tower_only(chain):
    model, _, predictor, _ = chain
    _, cce, _ = _terms(chain)
    cce.backward()
    assert _grad_norm(model.text_encoder) > 0 and _grad_norm(predictor) > 0
    assert _grad_norm(model.image_encoder) == 0  # the target is detached: no collapse to be predictable

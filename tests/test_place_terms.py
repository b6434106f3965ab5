"""PLACE wired in: its observations come from the engine's parse through the collator (denials
kept and marked), its two terms are built, weighted and switched by the config, the VPOE sits on
the model for CNN maps and ViT tokens alike, the T-PORs are encoded in one call per forward, and
a short CPU run with both terms trains, checkpoints and resumes exactly."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from pretrain.model.dual_encoder import build_model
from pretrain.place.observations import clinical_negation, split_observations
from pretrain.place.terms import CorrelationTerm, PcmaTerm
from pretrain.train.checkpoint import list_checkpoints, load_for_eval, load_state
from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import ConfigError, TrainConfig
from pretrain.train.loop import TrainingStopped, train
from pretrain.train.objective import Objective
from pretrain.train.terms import build_terms
from tests.test_trainer import _on_call, phantoms, rows, tiny_config  # noqa: F401 (phantoms: a fixture)

TINY = dict(text_encoder="tiny-bert", embed_dim=16, image_size=32, use_pcma=True, use_cce=True)
TEXTS = ["No pneumothorax or pleural effusion. Mild cardiomegaly.",
         "The lungs are clear.\n\n1. No acute disease. 2. Small left pleural effusion.",
         "Heart size is normal. No focal consolidation."]


def _batch(tokenizer, parser, k: int = 1) -> dict:
    parses = {f"r{i}": parser.parse(text) for i, text in enumerate(TEXTS)}
    collate = PerturbationCollator(tokenizer, lambda key, _text: parses[key], k_negatives=k,
                                   kinds="shuffle_all_words", parts=[PcmaTerm.collate])
    return collate([{"id": f"r{i}", "image": torch.randn(3, 32, 32), "text": text, "tags": []}
                    for i, text in enumerate(TEXTS)])


def test_the_config_builds_place_terms_after_the_built_ins_with_their_weights_and_leaves_them_off():
    assert [t.name for t in build_terms(TrainConfig())] == ["global", "local", "pert"]
    terms = build_terms(TrainConfig(use_pcma=True, use_cce=True, gamma=0.3, delta=0.7))
    assert [(t.name, t.weight) for t in terms][3:] == [("pcma", 0.3), ("cce", 0.7)]
    assert [t.name for t in build_terms(TrainConfig(use_cce=True))] == ["global", "local", "pert", "cce"]
    with pytest.raises(ConfigError, match="gamma"):
        TrainConfig(gamma=-1.0).validate()
    assert build_model(TrainConfig(image_encoder="tiny-resnet", **{**TINY, "use_pcma": False}))[0].vpoe is None


def test_the_collator_adds_each_reports_sentences_with_denials_marked(parser):
    _, tokenizer = build_model(TrainConfig(image_encoder="tiny-resnet", **TINY))
    batch = _batch(tokenizer, parser)
    units = [split_observations(parser.parse(text), negated=clinical_negation) for text in TEXTS]
    assert [[u.text for u in us] for us in units] == [
        ["No pneumothorax or pleural effusion.", "Mild cardiomegaly."],
        ["The lungs are clear.", "No acute disease.", "Small left pleural effusion."],
        ["Heart size is normal.", "No focal consolidation."]]
    assert batch["obs_slot"].tolist() == [[0, 1, -1], [2, 3, 4], [5, 6, -1]]
    assert batch["obs_input_ids"].shape[0] == 7  # one flat tokenisation, no padded sentence
    # "No acute disease." names no finding of the clinical vocabulary: nothing to deny.
    assert batch["obs_negated"].tolist() == [[True, False, False], [False, False, False], [False, True, False]]


@pytest.mark.parametrize("image_encoder", ["tiny-resnet", "tiny-vit"])
def test_both_terms_reach_the_vpoe_the_predictor_and_the_text_side_encoding_units_once(
        image_encoder, parser, monkeypatch):
    torch.manual_seed(0)
    config = TrainConfig(image_encoder=image_encoder, **TINY)
    model, tokenizer = build_model(config)
    objective = Objective(model, build_terms(config))
    batch = _batch(tokenizer, parser)
    calls = []
    encode_text = model.encode_text
    monkeypatch.setattr(model, "encode_text", lambda *args: calls.append(args[0].shape) or encode_text(*args))
    out = objective(batch)
    assert calls == [batch["obs_input_ids"].shape]  # both terms, one text-encoder call for the units
    assert torch.isfinite(out["pcma"]) and torch.isfinite(out["cce"])
    out["loss"].backward()
    assert model.vpoe.queries.grad.abs().sum() > 0
    assert objective.terms["cce"].predictor.code.weight.grad.abs().sum() > 0
    assert objective.terms["pcma"].log_scale.grad is not None
    assert model.text_global_head.weight.grad.abs().sum() > 0
    assert objective.logged()["temp_pcma"] == pytest.approx(0.07)


def test_the_pcma_term_on_a_model_without_vpoe_is_a_one_line_error(parser):
    model, tokenizer = build_model(TrainConfig(image_encoder="tiny-resnet", **{**TINY, "use_pcma": False}))
    with pytest.raises(ConfigError, match="needs a model built with use_pcma"):
        Objective(model, [PcmaTerm(0.1), CorrelationTerm(1.0, 16)])(_batch(tokenizer, parser))


def test_a_cpu_run_with_the_place_terms_trains_checkpoints_and_resumes_exactly(phantoms, tmp_path, monkeypatch):
    place = dict(use_pcma=True, use_cce=True, max_steps=4, save_every=2)
    straight = train(tiny_config(phantoms, tmp_path / "straight", **place))
    logged = rows(straight)
    assert all(torch.isfinite(torch.tensor([r["pcma"], r["cce"], r["loss"]])).all() for r in logged)
    assert logged[-1]["cce"] < logged[0]["cce"]

    def sigterm(terms):
        os.kill(os.getpid(), signal.SIGTERM)
        return terms

    config = tiny_config(phantoms, tmp_path / "resumed", **{**place, "save_every": 100})
    with monkeypatch.context() as patch:
        _on_call(patch, 2, sigterm)
        with pytest.raises(TrainingStopped):
            train(config)
    state = load_state(list_checkpoints(tmp_path / "resumed")[-1])
    assert "vpoe.queries" in state["model"] and "cce.predictor.code.weight" in state["terms"]
    assert "pcma.log_scale" in state["terms"]
    train(config, resume=True)
    key = ("step", "loss", "pcma", "cce", "grad_norm")
    assert [[r[k] for k in key] for r in rows(tmp_path / "resumed")] == [[r[k] for k in key] for r in logged]
    exported, _, saved = load_for_eval(straight)  # final/: the VPOE comes back with the heads
    assert saved.use_pcma and exported.vpoe is not None
    trained = torch.load(list_checkpoints(straight)[-1] / "state.pt", weights_only=True)["model"]["vpoe.queries"]
    assert torch.equal(exported.vpoe.queries, trained)
    assert json.loads((straight / "metrics.jsonl").read_text().splitlines()[0])["temp_pcma"] > 0

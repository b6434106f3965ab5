"""The trainer on CPU with tiny encoders: resume equals an uninterrupted run (SIGTERM in between),
a non-finite loss stops cleanly, a short run learns, and its exports load back."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import pretrain.train.objective as objective_module
from perturb.cache import write_parse_cache
from pretrain.train.checkpoint import list_checkpoints, load_for_eval
from pretrain.train.config import ConfigError, TrainConfig
from pretrain.train.loop import NonFiniteLoss, TrainDataError, TrainingStopped, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory, parser):
    """44 training pairs: the sample reports drawn as 48-px phantoms, and their parse cache."""
    from pretrain.data.reports import read_reports
    from pretrain.phantoms.phantom_set import build_phantom_set

    folder = tmp_path_factory.mktemp("phantoms")
    reports, _ = read_reports(ROOT / "data_samples" / "reports.jsonl")
    build_phantom_set(reports, folder, folder / "manifest.jsonl", size=48)
    texts = ["\n\n".join(p for p in (r.findings, r.impression) if p) for r in reports]
    write_parse_cache(folder / "parses.jsonl", zip([r.id for r in reports], texts, parser.parse_many(texts)))
    return folder


def tiny_config(phantoms: Path, out: Path, **overrides) -> TrainConfig:
    config = TrainConfig(
        manifest=str(phantoms / "manifest.jsonl"), parse_cache=str(phantoms / "parses.jsonl"),
        image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=32, max_length=48,
        batch_size=4, k_negatives=3, max_steps=6, save_every=3, log_every=1, lr_encoders=1e-3, lr_heads=1e-3,
        warmup_ratio=0.2, out_dir=str(out), device="cpu",
    )
    return replace(config, **overrides)


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _losses(run: Path) -> list[tuple]:
    return [(r["step"], r["loss"], r["global"], r["local"], r["pert"], r["grad_norm"]) for r in rows(run)]


def _on_call(monkeypatch, call: int, action) -> None:
    """Run `action(terms)` on the `call`-th loss computation of the trainer."""
    real = objective_module.compute_losses
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        terms = real(*args, **kwargs)
        return action(terms) if calls["n"] == call else terms

    monkeypatch.setattr(objective_module, "compute_losses", wrapped)


def test_resume_after_sigterm_continues_exactly(phantoms, tmp_path, monkeypatch):
    straight = train(tiny_config(phantoms, tmp_path / "straight"))

    def sigterm(terms):
        os.kill(os.getpid(), signal.SIGTERM)
        return terms

    config = tiny_config(phantoms, tmp_path / "resumed", save_every=100)
    with monkeypatch.context() as patch:
        _on_call(patch, 2, sigterm)
        with pytest.raises(TrainingStopped) as stopped:
            train(config)
    assert stopped.value.step == 2 and stopped.value.checkpoint.name == "checkpoint-0000002"
    assert [r["step"] for r in rows(tmp_path / "resumed")] == [1, 2]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored
    train(config, resume=True)

    assert _losses(tmp_path / "resumed") == _losses(straight)  # bit for bit, steps 1-6
    a, _, _ = load_for_eval(straight)
    b, _, _ = load_for_eval(tmp_path / "resumed")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(phantoms, tmp_path, monkeypatch):
    _on_call(monkeypatch, 5, lambda terms: {**terms, "loss": terms["loss"] * float("nan")})
    run = tmp_path / "nan"
    with pytest.raises(NonFiniteLoss, match=r"step 5 .*checkpoint-0000003"):
        train(tiny_config(phantoms, run))
    assert [p.name for p in list_checkpoints(run)] == ["checkpoint-0000003"]
    assert not (run / "final").exists()
    model, _, _ = load_for_eval(run)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_short_run_learns_and_exports_plain_transformers_models(phantoms, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from pretrain.model.text import tokenize_reports

    run = train(tiny_config(phantoms, tmp_path / "learn", max_steps=40, batch_size=8, save_every=20,
                            log_every=5, parse_cache=None, warmup_ratio=0.05))
    logged = rows(run)
    assert [r["step"] for r in logged] == list(range(5, 45, 5))
    assert logged[-1]["global"] < 0.8 * logged[0]["global"]
    assert logged[-1]["loss"] < logged[0]["loss"]
    assert (run / "parses.jsonl.gz").is_file()  # parsed once before training
    assert (run / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert TrainConfig.load(run / "config.toml") == TrainConfig.load(run / "final" / "config.toml")
    assert [p.name for p in list_checkpoints(run)] == ["checkpoint-0000020", "checkpoint-0000040"]

    final, tokenizer, config = load_for_eval(run)
    assert not final.training and config.max_steps == 40
    checkpoint, _, _ = load_for_eval(run / "checkpoint-0000040")
    encoded = tokenize_reports(tokenizer, ["Mild cardiomegaly.", "The lungs are clear."], config.max_length)
    with torch.no_grad():
        a = final.encode_text(**encoded)
        b = checkpoint.encode_text(**encoded)
        images = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(final.encode_image(images)[0], checkpoint.encode_image(images)[0])
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    plain = AutoModel.from_pretrained(run / "final" / "text_encoder")
    assert torch.equal(plain.embeddings.word_embeddings.weight, final.text_encoder.backbone.embeddings.word_embeddings.weight)
    assert AutoTokenizer.from_pretrained(run / "final" / "text_encoder").is_fast


def test_refuses_to_overwrite_or_resume_the_wrong_run(phantoms, tmp_path):
    config = tiny_config(phantoms, tmp_path / "run", max_steps=3)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(config, resume=True)
    train(config)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(config)
    with pytest.raises(ConfigError, match="different embed_dim"):
        train(replace(config, embed_dim=8, max_steps=4), resume=True)


def test_bad_inputs_are_one_line_errors(phantoms, tmp_path):
    with pytest.raises(TrainDataError, match="has 44 usable pairs; one optimizer step needs 64"):
        train(tiny_config(phantoms, tmp_path / "a", batch_size=64))
    with pytest.raises(TrainDataError, match="cannot read the manifest"):
        train(tiny_config(phantoms, tmp_path / "b", manifest=str(tmp_path / "none.jsonl")))
    stale = tmp_path / "stale.jsonl"
    stale.write_text("\n".join((phantoms / "parses.jsonl").read_text().splitlines()[:10]) + "\n")
    with pytest.raises(ValueError, match=r"\d+ of 44 reports are missing from the parse cache"):
        train(tiny_config(phantoms, tmp_path / "c", parse_cache=str(stale)))


def test_config_round_trips_through_toml(tmp_path):
    config = TrainConfig(manifest="m.jsonl", kinds=["shuffle_all_words", "reverse_sentence"], alpha=0.25,
                         use_local=False, max_steps=7, split="all", out_dir='we"ird\\path')
    assert TrainConfig.load(config.save(tmp_path / "c.toml")) == config
    (tmp_path / "grouped.toml").write_text('[loss]\nalpha = 1\nkinds = "shuffle_all_words"\n[run]\nseed = 3\n')
    grouped = TrainConfig.load(tmp_path / "grouped.toml")
    assert (grouped.alpha, grouped.kinds, grouped.seed) == (1.0, ["shuffle_all_words"], 3)
    (tmp_path / "bad.toml").write_text("alpah = 1\n")
    with pytest.raises(ConfigError, match="unknown setting.*alpah"):
        TrainConfig.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="batch_size must be int"):
        TrainConfig.from_dict({"batch_size": "8"})
    with pytest.raises(ConfigError, match="all loss terms are switched off"):
        TrainConfig(use_global=False, use_local=False, use_pert=False).validate()
    with pytest.raises(ConfigError, match="unknown perturbation"):
        TrainConfig(kinds=["nope"]).validate()


def test_training_draws_the_papers_nine_by_default():
    """"all" now holds the clinical edits too; the default and the paper's config stay the nine."""
    import perturb

    assert perturb.resolve_kinds(TrainConfig().kinds) == list(perturb.PAPER_KINDS)
    paper = TrainConfig.load(Path(__file__).resolve().parent.parent / "configs" / "paper.toml")
    assert perturb.resolve_kinds(paper.kinds) == list(perturb.PAPER_KINDS)


def test_overrides_are_checked_like_a_config_file_and_none_means_not_given(tmp_path):
    base = TrainConfig(alpha=0.25, seed=3)
    changed = base.with_overrides({"seed": 5, "alpha": None, "out_dir": tmp_path, "kinds": "shuffle_all_words"})
    assert (changed.seed, changed.alpha, changed.kinds) == (5, 0.25, ["shuffle_all_words"])
    assert changed.out_dir == str(tmp_path)
    assert base.seed == 3  # a copy
    with pytest.raises(ConfigError, match="command line: batch_size must be int"):
        base.with_overrides({"batch_size": "8"}, where="command line")
    with pytest.raises(ConfigError, match="unknown setting.*alpah"):
        base.with_overrides({"alpah": 1.0})


def _documented_term() -> str:
    """The code block of docs/pretrain.md's "Adding a loss term"."""
    text = (ROOT / "docs" / "pretrain.md").read_text()
    section = text[text.index("## Adding a loss term"):]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_loss_term_trains_and_is_logged_by_name(phantoms, tmp_path):
    from pretrain.train.terms import TERMS

    namespace: dict = {}
    try:
        exec(compile(_documented_term(), "docs/pretrain.md", "exec"), namespace)
        run = train(tiny_config(phantoms, tmp_path / "filip", max_steps=3))
    finally:
        TERMS.pop("filip", None)
    logged = rows(run)
    assert all({"filip", "filip_acc"} <= set(row) for row in logged)
    losses = [row["filip"] for row in logged]
    assert all(math.isfinite(v) for v in losses) and losses[0] != losses[-1]
    total = [row["global"] + 0.1 * row["local"] + 0.1 * row["pert"] + 0.05 * row["filip"] for row in logged]
    assert [row["loss"] for row in logged] == pytest.approx(total, rel=1e-5)
    state = torch.load(list_checkpoints(run)[-1] / "state.pt", weights_only=True)
    assert set(state["terms"]) == {"global.log_scale", "pert.log_scale", "filip.log_scale"}


def test_an_older_checkpoint_with_the_temperatures_in_the_model_resumes_exactly(phantoms, tmp_path):
    """Before the loss terms owned them, the model held its temperatures (`log_scale_global`,
    `log_scale_pert`): such a checkpoint still resumes, and continues exactly; such an export
    still loads."""
    from safetensors.torch import load_file, save_file

    straight = train(tiny_config(phantoms, tmp_path / "straight"))  # checkpoints after steps 3 and 6
    old = Path(shutil.copytree(straight, tmp_path / "old"))
    shutil.rmtree(old / "final")
    shutil.rmtree(old / "checkpoint-0000006")
    state = torch.load(old / "checkpoint-0000003" / "state.pt", weights_only=True)
    terms = state.pop("terms")
    state["model"] = {"log_scale_global": terms["global.log_scale"], "log_scale_pert": terms["pert.log_scale"],
                      **state["model"]}
    torch.save(state, old / "checkpoint-0000003" / "state.pt")
    train(tiny_config(phantoms, old), resume=True)
    assert _losses(old) == _losses(straight)
    heads = load_file(old / "final" / "heads.safetensors")
    for legacy, name in (("log_scale_global", "global.log_scale"), ("log_scale_pert", "pert.log_scale")):
        heads[legacy] = heads.pop("terms." + name)
    save_file(heads, old / "final" / "heads.safetensors")
    model, _, _ = load_for_eval(old)
    assert torch.equal(model.image_global_head.weight, load_for_eval(straight)[0].image_global_head.weight)

"""HybridMED through the trainer on CPU with tiny models: both stages, sections carried apart,
records without an impression skipped and counted, the perturbation collator on one section, the
teacher frozen in stage 2 (no gradient, no optimizer state) and resume inside stage 2 exact."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import pretrain.train.objective as objective_module
from perturb.io.parse_cache import ParseCache, write_parse_cache
from pretrain.data.manifest import read_manifest, write_manifest
from pretrain.data.sections import parse_records, section_key
from pretrain.hybridmed.batch import SectionTokens
from pretrain.hybridmed.config import HYBRIDMED
from pretrain.hybridmed.schedule import TEACHER_GROUPS, parameter_group
from pretrain.model.encoders import load_tokenizer
from pretrain.train.checkpoint import load_for_eval
from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import ConfigError, TrainConfig
from pretrain.train.loop import TrainingStopped, _Run, train

ROOT = Path(__file__).resolve().parent.parent
NO_IMPRESSION = ("sample-002", "sample-005")


@pytest.fixture(scope="module")
def sections(tmp_path_factory, parser):
    """44 phantom pairs, two of them without an impression, and a parse cache of their
    impressions (the section the runs perturb)."""
    from pretrain.data.reports import read_reports
    from pretrain.phantoms.phantom_set import build_phantom_set

    folder = tmp_path_factory.mktemp("sections")
    reports, _ = read_reports(ROOT / "data_samples" / "reports.jsonl")
    build_phantom_set(reports, folder, folder / "manifest.jsonl", size=48)
    rows = [replace(r, impression="") if r.id in NO_IMPRESSION else r for r in read_manifest(folder / "manifest.jsonl")]
    write_manifest(folder / "manifest.jsonl", rows)
    records = parse_records(({**r.to_dict(), "text": r.text} for r in rows), "impression")
    write_parse_cache(folder / "parses.jsonl", [(k, t, p) for (k, t), p in
                                                zip(records, parser.parse_many([t for _, t in records]))])
    return folder


def hybrid_config(folder: Path, out: Path, **overrides) -> TrainConfig:
    config = TrainConfig(
        manifest=str(folder / "manifest.jsonl"), parse_cache=str(folder / "parses.jsonl"), split="all",
        image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=32, max_length=48,
        batch_size=4, k_negatives=2, max_steps=4, save_every=2, log_every=1, lr_encoders=1e-3, lr_heads=1e-3,
        warmup_ratio=0.0, out_dir=str(out), device="cpu", decoder_dim=16, decoder_layers=1, decoder_heads=2,
        stage1_fraction=0.5, perturb_section="impression",
    ).with_overrides({**HYBRIDMED, "use_pert": True})
    return replace(config, **overrides).validate()


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_collator_perturbs_one_section_and_keeps_a_record_without_it_unperturbed(sections, parser):
    tokenizer = load_tokenizer("minilm")
    manifest = read_manifest(sections / "manifest.jsonl")
    items = [{**r.to_dict(), "text": r.text, "image": torch.zeros(1, 4, 4)} for r in manifest[:6]]
    collate = PerturbationCollator(tokenizer, ParseCache.load(sections / "parses.jsonl").get, k_negatives=2,
                                   section="impression", parts=[SectionTokens(48)])
    batch = collate(items)
    present = [bool(item["impression"]) for item in items]
    assert batch["section_present"].tolist() == present and not all(present)
    for row, item in enumerate(items):
        original = tokenizer.decode(batch["input_ids"][row, 0], skip_special_tokens=True)
        if present[row]:  # column 0 is the impression alone, its negatives perturb it
            assert original == tokenizer.decode(tokenizer(item["impression"])["input_ids"], skip_special_tokens=True)
        else:  # no impression: the whole report stands, no negative is scored
            assert not batch["neg_valid"][row, 1:].any()
            assert original.startswith(tokenizer.decode(tokenizer(item["findings"])["input_ids"][1:6]))
    assert batch["has_impression"].tolist() == present
    assert batch["has_findings"].tolist() == [bool(item["findings"]) for item in items]
    assert batch["findings_input_ids"].shape[0] == batch["impression_input_ids"].shape[0] == 6
    assert section_key("a", "report") == "a" and section_key("a", "findings") == "a#findings"


def test_a_config_that_cannot_work_is_refused():
    with pytest.raises(ConfigError, match="perturb_section"):
        TrainConfig(perturb_section="history").validate()
    with pytest.raises(ConfigError, match="lambda_dis distils"):
        TrainConfig(lambda_dis=1.0, lambda_cap=1.0).validate()
    with pytest.raises(ConfigError, match="multiple of decoder_heads"):
        TrainConfig(lambda_sum=1.0, decoder_dim=10, decoder_heads=4).validate()


def test_two_stages_train_with_the_teacher_frozen_and_count_skipped_records(sections, tmp_path, monkeypatch):
    checked = {"stage2_steps": 0}
    real = _Run._optimizer_step

    def checking(self, batches):
        values = real(self, batches)
        teacher = [(n, p) for n, p in self.model.named_parameters() if parameter_group(n) in TEACHER_GROUPS]
        in_optimizer = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        if self.stage.index == 2:  # no gradient, no optimizer state, not even a slot in the optimizer
            checked["stage2_steps"] += 1
            assert all(not p.requires_grad and p.grad is None for _, p in teacher)
            assert not any(id(p) in in_optimizer or p in self.optimizer.state for _, p in teacher)
            caption = [p for n, p in self.model.named_parameters() if parameter_group(n) == "caption"]
            assert all(p in self.optimizer.state for p in caption)
        else:  # stage 1 trains the teacher alone: the encoders are frozen
            assert all(id(p) in in_optimizer for _, p in teacher)
            assert not any(p.requires_grad for p in self.model.image_encoder.parameters())
        return values

    monkeypatch.setattr(_Run, "_optimizer_step", checking)
    run = train(hybrid_config(sections, tmp_path / "run"))
    assert checked["stage2_steps"] == 2
    logged = rows(run)
    assert [set(r) & {"sum", "cg", "cl", "cap", "dis", "pert"} for r in logged] == [
        {"sum"}, {"sum"}, *[{"cg", "cl", "cap", "dis", "pert"}] * 2]
    for r in logged[2:]:  # cg and cap need the impression, dis both sections: it skips the most
        assert r["skipped_cg"] == r["skipped_cap"] <= r["skipped_dis"] and r["skipped_cl"] <= r["skipped_dis"]
    assert all((4 * r[key]).is_integer() for r in logged for key in r if key.startswith("skipped_"))
    model, _, _ = load_for_eval(run)
    assert hasattr(model, "decoder")
    stage1 = torch.load(run / "checkpoint-0000002" / "state.pt", weights_only=True)["model"]
    final = model.state_dict()
    for name, value in stage1.items():  # the teacher did not move in stage 2; the captioner did
        if name.startswith("decoder."):
            moved = not torch.equal(value, final[name])
            assert moved == (parameter_group(name) == "caption"), name


def test_resume_inside_stage_two_continues_exactly(sections, tmp_path, monkeypatch):
    straight = train(hybrid_config(sections, tmp_path / "straight"))
    real = objective_module.compute_losses
    calls = {"n": 0}

    def sigterm_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    config = hybrid_config(sections, tmp_path / "resumed", save_every=100)
    with monkeypatch.context() as patch:
        patch.setattr(objective_module, "compute_losses", sigterm_on_third)
        with pytest.raises(TrainingStopped) as stopped:
            train(config)
    assert stopped.value.step == 3  # the first step of stage 2 done, the second to come
    train(config, resume=True)
    keys = ("step", "loss", "cg", "cl", "cap", "dis", "pert", "grad_norm")
    assert [[r.get(k) for k in keys] for r in rows(tmp_path / "resumed")] == \
        [[r.get(k) for k in keys] for r in rows(straight)]
    a, _, _ = load_for_eval(straight)
    b, _, _ = load_for_eval(tmp_path / "resumed")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name

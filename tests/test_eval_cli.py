"""`radperturb evaluate | explain | benchmark ablation` end to end on CPU: phantoms of the sample
reports at 32 px, tiny encoders, one or two optimizer steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples" / "reports.jsonl"
TINY = ["--image-encoder", "tiny-resnet", "--text-encoder", "tiny-bert", "--image-size", "32",
        "--batch-size", "8", "-K", "2", "--embed-dim", "16", "--device", "cpu"]
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantoms")
    result = run("data", "phantoms", "--reports", SAMPLES, "--out", out, "--size", "32",
                 "--test-fraction", "0.3", "--valid-fraction", "0", "--quiet")
    assert result.exit_code == 0, result.output
    return out / "manifest.jsonl"


@pytest.fixture(scope="module")
def run_dir(manifest, tmp_path_factory) -> Path:
    from pretrain.train.config import TrainConfig
    from pretrain.train.loop import train

    config = TrainConfig(manifest=str(manifest), image_size=32, image_encoder="tiny-resnet",
                         text_encoder="tiny-bert", embed_dim=16, batch_size=8, k_negatives=2,
                         max_steps=1, device="cpu", out_dir=str(tmp_path_factory.mktemp("run")))
    return train(config)


def test_evaluate_writes_tables_json_and_plots(run_dir, manifest, tmp_path, parser):
    import perturb
    from pretrain.data import read_manifest
    from pretrain.evaluation.semantic import ZERO_SHOT_KINDS

    out = tmp_path / "eval"
    result = run("evaluate", run_dir, "--manifest", manifest, "--out", out, "--device", "cpu",
                 "--parse-cache", run_dir / "parses.jsonl.gz")
    assert result.exit_code == 0, result.output
    assert "Clinical semantic structure" in result.stdout and "Retrieval" in result.stdout
    data = json.loads((out / "evaluation.json").read_text())
    test_rows = [r for r in read_manifest(manifest) if r.split == "test"]
    assert data["n_images"] == len(test_rows) == data["retrieval"]["n"]
    # The training cache holds the train split only: the test reports were parsed here.
    assert data["parses"] == {"from_cache": 0, "parsed": len(test_rows)}
    applicable = [
        sum(perturb.apply(parser.parse(r.text), k, seed=0, key=r.id).applicable for k in ZERO_SHOT_KINDS)
        for r in test_rows
    ]
    expected_chance = sum(1 / (1 + n) for n in applicable if n) / sum(1 for n in applicable if n)
    assert data["semantic"]["paper"]["chance"] == pytest.approx(expected_chance)
    assert data["semantic"]["all"]["chance"] < data["semantic"]["paper"]["chance"]
    assert data["semantic"]["all"]["kinds"] == list(perturb.PAPER_KINDS)  # "all nine", not every kind
    assert set(data["semantic"]["per_kind"]) == set(perturb.PAPER_KINDS)
    # The text-only control scores the same candidates, one blank image standing in for all.
    control = data["semantic_text_only"]
    assert set(control["per_kind"]) == set(perturb.PAPER_KINDS)
    for setting in ("paper", "all"):
        assert control[setting]["n"] == data["semantic"][setting]["n"] > 0
        assert control[setting]["chance"] == data["semantic"][setting]["chance"]
        assert 0 <= control[setting]["accuracy"] <= 1
    assert "blank image" in result.stdout
    for direction in ("image_to_report", "report_to_image"):
        recalls = [data["retrieval"][direction][k] for k in ("R@1", "R@5", "R@10")]
        assert recalls == sorted(recalls) and all(0 <= r <= 1 for r in recalls)
    assert data["zero_shot"]["per_label"]["emphysema"]["auroc"] is None  # no positive in the samples
    assert data["linear_probe"]["train_split"] == "train"
    for name in ("semantic.png", "retrieval.png", "classification.png"):
        assert (out / name).read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no/such/run"], 2, "no such checkpoint"),
        (["{run}", "--split", "holdout"], 2, "--split must be one of"),
        (["{run}", "--kinds", "nonsense"], 2, "unknown perturbation"),
        (["{run}", "--parse-cache", "missing.jsonl"], 2, "no such file"),
    ],
)
def test_evaluate_errors_are_one_line(run_dir, manifest, tmp_path, args, code, message):
    args = [a.replace("{run}", str(run_dir)) for a in args]
    result = run("evaluate", *args, "--manifest", manifest, "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == code
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_evaluate_needs_two_images_in_the_split(run_dir, manifest, tmp_path):
    result = run("evaluate", run_dir, "--manifest", manifest, "--split", "valid", "--out", tmp_path,
                 "--device", "cpu")
    assert result.exit_code == 1
    assert "split 'valid' has 0 usable image(s)" in result.stderr


def test_explain_draws_one_panel_per_word(run_dir, manifest, tmp_path):
    image = manifest.parent / "images" / "sample-002.png"
    out = tmp_path / "explain.png"
    result = run("explain", run_dir, "--image", image, "--report", "Small left pleural effusion.",
                 "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "(4 words)" in result.stderr
    assert out.read_bytes().startswith(PNG)
    empty = run("explain", run_dir, "--image", image, "--report", "  ", "--out", out, "--device", "cpu")
    assert empty.exit_code == 1 and "the report is empty" in empty.stderr


def test_ablation_runs_resumes_and_refuses_other_settings(manifest, tmp_path, monkeypatch):
    import os
    import signal

    import pretrain.train.loop as trainer

    out = tmp_path / "ablation"
    args = ["benchmark", "ablation", "--manifest", manifest, "--out", out, "--settings", "clip,ours",
            "--seeds", "0", "--max-steps", "1", *TINY]
    real_train = trainer.train

    def train_after_a_stop_request(config, **kwargs):
        # The SIGTERM that --time-budget sends, arriving as the first run starts (deterministic,
        # unlike a wall-clock budget on a machine of unknown speed).
        monkeypatch.setattr(trainer, "train", real_train)
        os.kill(os.getpid(), signal.SIGTERM)
        return real_train(config, **kwargs)

    monkeypatch.setattr(trainer, "train", train_after_a_stop_request)
    # A stop request during the first run ends the ablation cleanly after it...
    stopped = run(*args)
    assert stopped.exit_code == 0, stopped.output
    assert "still to do" in stopped.stderr and not (out / "results" / "ours-seed0.json").exists()
    # ...and the next call finishes what is left.
    first = run(*args)
    assert first.exit_code == 0, first.output
    summary = json.loads((out / "ablation.json").read_text())
    assert summary["done"] == {"clip": [0], "ours": [0]}
    assert summary["summary"]["ours"]["semantic_paper"]["n"] == 1
    assert summary["summary"]["ours"]["semantic_paper_text_only"]["n"] == 1
    assert "semantic_paper_text_only" in first.stdout
    assert (out / "ablation.png").read_bytes().startswith(PNG)
    assert "| clip | 0 |" in (out / "ablation.md").read_text()
    for name in ("clip-seed0", "ours-seed0"):
        result = json.loads((out / "results" / f"{name}.json").read_text())
        assert result["run"]["setting"] == name.split("-")[0]
    saved = (out / "runs" / "ours-seed0" / "config.toml").read_text()
    assert "use_local = true" in saved and "use_pert = true" in saved
    assert "use_local = false" in (out / "runs" / "clip-seed0" / "config.toml").read_text()

    again = run(*args)
    assert again.exit_code == 0 and again.stderr.count("done before, skipped") == 2

    changed = run(*[a if a != "1" else "2" for a in args])
    assert changed.exit_code == 2 and "max_steps=1 (now 2)" in changed.stderr
    unknown = run("benchmark", "ablation", "--manifest", manifest, "--out", out, "--settings", "simclr")
    assert unknown.exit_code == 2 and "unknown setting(s) simclr" in unknown.stderr


def test_a_spent_time_budget_sends_the_stop_request():
    from pretrain.experiments.ablation import TimeBudget

    with TimeBudget(0.05) as stop:
        assert stop.event.wait(timeout=10), "no SIGTERM arrived after the budget was spent"

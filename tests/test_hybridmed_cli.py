"""`radperturb pretrain --objective hybridmed`, `generate` and `evaluate` of a HybridMED model, end
to end on CPU: phantoms of the sample reports at 32 px, tiny encoders and decoder, two steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.data.manifest import read_manifest
from pretrain.hybridmed.generate import GenerationError, check_decoder
from pretrain.train.config import TrainConfig
from tests.test_eval_cli import manifest, run  # noqa: F401 (manifest: a fixture, the sample phantoms)

TINY = ["--image-encoder", "tiny-resnet", "--text-encoder", "tiny-bert", "--image-size", "32", "--batch-size", "8",
        "--embed-dim", "16", "--device", "cpu", "--decoder-dim", "16", "--decoder-layers", "1",
        "--decoder-heads", "2", "--max-length", "48"]


@pytest.fixture(scope="module")
def run_dir(manifest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hybridmed") / "run"
    result = run("pretrain", manifest, "--objective", "hybridmed", *TINY, "--max-steps", "2",
                 "--stage1-fraction", "0.5", "--lambda-cl", "0.5", "--log-every", "1", "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out


def test_the_objective_preset_sits_under_the_flags(run_dir):
    config = TrainConfig.load(run_dir / "config.toml")
    assert (config.use_global, config.use_local, config.use_pert) == (False, False, False)
    assert (config.lambda_cg, config.lambda_cl, config.lambda_sum, config.lambda_cap) == (1.0, 0.5, 1.0, 1.0)
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert "sum" in steps[0] and {"cg", "cl", "cap", "dis"} <= set(steps[1])


def test_generate_writes_one_impression_per_image(run_dir, manifest, tmp_path):
    images = sorted((manifest.parent / "images").glob("*.png"))[:2]
    out = tmp_path / "impressions.jsonl"
    result = run("generate", run_dir, *[a for image in images for a in ("--image", image)], "--beam-size", "2",
                 "--max-new-tokens", "8", "--device", "cpu", "-o", out)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["image"] for line in lines] == [str(i) for i in images]
    assert all(isinstance(line["impression"], str) for line in lines)


def test_evaluate_adds_impression_generation_with_its_blind_baseline(run_dir, manifest, tmp_path):
    out = tmp_path / "eval"
    result = run("evaluate", run_dir, "--manifest", manifest, "--out", out, "--device", "cpu", "--probe-split", "none")
    assert result.exit_code == 0, result.output
    assert "Impressions written from the images" in result.stdout
    generation = json.loads((out / "evaluation.json").read_text())["generation"]
    assert set(generation["scores"]) == {"bleu1", "bleu2", "bleu3", "bleu4", "rougeL", "n"}
    test_rows = [r for r in read_manifest(manifest) if r.split == "test"]
    assert generation["n"] == generation["clinical"]["n"] == sum(1 for r in test_rows if r.impression)
    assert generation["skipped_no_impression"] == sum(1 for r in test_rows if not r.impression)
    assert generation["blind"]["constant"]["text"]


@pytest.mark.parametrize("args, message", [
    (["pretrain", "m.jsonl", "--objective", "mystery"], "--objective 'mystery' is unknown; known: hybridmed"),
    (["generate", "runs/none", "--image", "nope.png"], "nope.png"),
])
def test_errors_are_one_line(args, message):
    result = run(*args)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_a_model_without_a_decoder_cannot_write_impressions():
    with pytest.raises(GenerationError, match="no impression decoder"):
        check_decoder(object(), "runs/clip")


def test_the_ablation_has_a_hybridmed_setting_that_makes_a_two_stage_config():
    from pretrain.experiments.ablation import SETTINGS
    from pretrain.hybridmed.config import hybrid_schedule

    config = TrainConfig().with_overrides(SETTINGS["hybridmed"]).validate()
    first, second = hybrid_schedule(config).stages(100)
    assert set(first.weights) == {"sum"} and set(second.weights) == {"cg", "cl", "cap", "dis"}

"""`radperturb pretrain` and `radperturb pretrain-cache`: config precedence, resume, one-line errors
with the right exit status, and a real (tiny) run through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from pretrain.train.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
TINY = ["--image-encoder", "tiny-resnet", "--text-encoder", "tiny-bert", "--image-size", "32", "--embed-dim", "16",
        "--max-length", "48", "--batch-size", "4", "--negatives", "2", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Phantoms of the sample reports and their parse cache, made through the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    rendered = runner.invoke(app, ["data", "phantoms", "--reports", str(ROOT / "data_samples" / "reports.jsonl"),
                                   "--out", str(folder), "--size", "32", "-q"])
    assert rendered.exit_code == 0, rendered.output
    cached = runner.invoke(app, ["pretrain-cache", str(folder / "manifest.jsonl"), "-o", str(folder / "parses.jsonl.gz"),
                                 "--split", "train", "-q"])
    assert cached.exit_code == 0, cached.output
    return folder


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_flags_override_the_config_file_and_resume_continues(data, tmp_path):
    run = tmp_path / "run"
    (tmp_path / "c.toml").write_text(f'manifest = "{data / "manifest.jsonl"}"\nmax_steps = 2\nalpha = 0.3\n'
                                     "[optim]\nlr_heads = 0.002\n")
    first = runner.invoke(app, ["pretrain", "-c", str(tmp_path / "c.toml"), "-o", str(run), "--max-steps", "3",
                                "--save-every", "3", "--log-every", "1",
                                "--parse-cache", str(data / "parses.jsonl.gz"), *TINY])
    assert first.exit_code == 0, first.output
    saved = TrainConfig.load(run / "config.toml")
    assert (saved.max_steps, saved.alpha, saved.lr_heads, saved.k_negatives) == (3, 0.3, 0.002, 2)
    assert [r["step"] for r in _rows(run)] == [1, 2, 3]

    more = runner.invoke(app, ["pretrain", "-o", str(run), "--resume", "--max-steps", "5", "-q"])
    assert more.exit_code == 0, more.output
    assert [r["step"] for r in _rows(run)] == [1, 2, 3, 4, 5]
    assert TrainConfig.load(run / "config.toml").alpha == 0.3  # the run's own settings carried over
    assert (run / "final" / "heads.safetensors").is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pretrain"], 2, "give a MANIFEST"),
        (["pretrain", "nowhere.jsonl"], 2, "no such manifest"),
        (["pretrain", "{manifest}", "--kinds", "shuffle_all_words,nope"], 2, "unknown perturbation 'nope'"),
        (["pretrain", "{manifest}", "--no-global", "--no-local", "--no-pert"], 2, "all loss terms are switched off"),
        (["pretrain", "{manifest}", "--text-encoder", "bert-base-uncased", "--parse-cache", "{cache}"], 2,
         "nor a local model directory"),
        (["pretrain", "{manifest}", "--batch-size", "64", "--parse-cache", "{cache}", "--image-encoder",
          "tiny-resnet", "--text-encoder", "tiny-bert"], 1, "usable pairs"),
        (["pretrain", "{manifest}", "--split", "valid", "--batch-size", "2", "--parse-cache", "{cache}",
          "--image-encoder", "tiny-resnet", "--text-encoder", "tiny-bert"], 1, "missing from the parse cache"),
        (["pretrain", "-c", "{bad_toml}", "{manifest}"], 2, "unknown setting(s) alpah"),
        (["pretrain", "-o", "{empty}", "--resume", "{manifest}", "--parse-cache", "{cache}", "--image-encoder",
          "tiny-resnet", "--text-encoder", "tiny-bert"], 2, "nothing to resume"),
        (["pretrain-cache", "nowhere.jsonl", "-o", "x.jsonl"], 2, "no such manifest"),
    ],
)
def test_user_errors_are_one_line(data, tmp_path, args, code, message):
    (tmp_path / "bad.toml").write_text("alpah = 1\n")
    values = {"manifest": str(data / "manifest.jsonl"), "cache": str(data / "parses.jsonl.gz"),
              "bad_toml": str(tmp_path / "bad.toml"), "empty": str(tmp_path / "empty")}
    out = ["-o", str(tmp_path / "run")] if args[0] == "pretrain" and "-o" not in args else []
    result = runner.invoke(app, [a.format(**values) for a in args] + out + ["-q"])
    assert result.exit_code == code, result.output
    line = _error_line(result)
    assert line.startswith("radperturb pretrain") and message in line


def test_help_is_fast_and_shows_examples():
    out = subprocess.run([sys.executable, "-c", "import sys; from cli.app import app; "
                          "sys.argv = ['radperturb', 'pretrain', '--help']; app(); "],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "radperturb pretrain /tmp/phantoms/manifest.jsonl" in out.stdout
    check = subprocess.run([sys.executable, "-c", "import sys, cli.app; print('torch' in sys.modules)"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert check.stdout.strip() == "False"


def test_every_setting_is_a_flag_whose_help_shows_the_config_default():
    from dataclasses import fields

    from cli.common_options import TRAIN_SETTINGS

    flagged = {name for group in TRAIN_SETTINGS.values() for name in group}
    assert flagged == {f.name for f in fields(TrainConfig)} - {"manifest"}
    result = runner.invoke(app, ["pretrain", "--help"], env={"COLUMNS": "300"})
    assert f"Tokens per report. [default: {TrainConfig().max_length}]" in result.stdout
    assert f"Perturbed negatives per report. [default: {TrainConfig().k_negatives}]" in result.stdout

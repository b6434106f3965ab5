"""Issue 12, the training and evaluation cases: checkpoints load no code (1), damaged checkpoints,
images and devices are one-line errors or are worked around (9, 10), a resume falls back to the
last good checkpoint, and a killed run's staging folders go with the next run (12).

Through the command line (CliRunner) on a tiny run: phantoms of the sample reports at 32 px, tiny
encoders, two optimizer steps."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cli.app import app

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples" / "reports.jsonl"
TINY = ["--image-encoder", "tiny-resnet", "--text-encoder", "tiny-bert", "--image-size", "32", "--embed-dim", "16",
        "--max-length", "48", "--batch-size", "4", "--negatives", "2", "--device", "cpu", "--log-every", "1"]

pytestmark = pytest.mark.slow


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rendered = run("data", "phantoms", "--reports", SAMPLES, "--out", folder, "--size", "32",
                   "--test-fraction", "0.3", "--valid-fraction", "0", "-q")
    assert rendered.exit_code == 0, rendered.output
    cached = run("pretrain-cache", folder / "manifest.jsonl", "-o", folder / "parses.jsonl.gz", "-q")
    assert cached.exit_code == 0, cached.output
    return folder


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    """A finished run of two steps with a checkpoint after each."""
    out = tmp_path_factory.mktemp("runs") / "run"
    result = run("pretrain", data / "manifest.jsonl", "-o", out, "--parse-cache", data / "parses.jsonl.gz",
                 "--max-steps", "2", "--save-every", "1", "-q", *TINY)
    assert result.exit_code == 0, result.output
    return out


def copy_run(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


class Payload:
    """Unpickling it runs `touch MARKER`: what a crafted state.pt can do under weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted_state(marker: Path) -> dict:
    return {"model": Payload(marker), "optimizer": {}, "scheduler": {}, "rng": [], "step": 2, "epoch": 0,
            "step_in_epoch": 2, "world_size": 1, "config": {}}


# --- 5. bad manifest rows in a run without a parse cache ------------------------------------


def test_5_pretrain_without_a_cache_leaves_bad_manifest_rows_out_and_trains(data, tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        row["image"] = str(data / row["image"])
    bad = [{**rows[0], "id": "surrogate", "findings": "Effusion \ud800."},
           {**rows[0], "id": "long", "findings": "word " * 200_001},
           {**rows[1]}]  # a repeated id
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows + bad))
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match=rf"3 bad rows left out \(first: {manifest}:{len(rows) + 1}: "):
        result = run("pretrain", manifest, "-o", out, "--max-steps", "1", "-q", *TINY)
    assert result.exit_code == 0, result.output
    from perturb.cache import ParseCache

    assert set(ParseCache.load(out / "parses.jsonl.gz").keys()) <= {r["id"] for r in rows}


# --- 1. checkpoints load no code -----------------------------------------------------------------


def test_1_a_crafted_checkpoint_runs_no_code_in_evaluate_explain_or_resume(trained, data, tmp_path):
    marker = tmp_path / "code-ran"
    run_dir = copy_run(trained, tmp_path)
    shutil.rmtree(run_dir / "final")
    for checkpoint in run_dir.glob("checkpoint-*"):
        torch.save(crafted_state(marker), checkpoint / "state.pt")
    newest = sorted(run_dir.glob("checkpoint-*"))[-1]
    image = data / "images" / "sample-002.png"
    line = one_line_error(run("evaluate", newest, "-m", data / "manifest.jsonl", "-o", tmp_path / "e",
                              "--device", "cpu"), 1)
    assert "refusing to load it" in line and "posix.system" in line
    line = one_line_error(run("explain", newest, "-i", image, "-r", "Clear lungs.", "-o", tmp_path / "x.png",
                              "--device", "cpu"), 1)
    assert "refusing to load it" in line
    result = run("pretrain", "-o", run_dir, "--resume", "--max-steps", "3", "-q")
    assert result.exit_code == 2, result.output
    assert "none of its 2 checkpoints can be loaded" in result.stderr and "Traceback" not in result.output
    assert not marker.exists(), "unpickling ran the payload"


def test_1_a_checkpoint_holds_only_what_weights_only_loads(trained):
    state = torch.load(sorted(trained.glob("checkpoint-*"))[-1] / "state.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "rng", "step", "config"} <= set(state)
    assert isinstance(state["rng"][0]["numpy"]["keys"], torch.Tensor)


# --- 9. an empty state.pt ------------------------------------------------------------------------


def test_9_an_empty_state_file_is_a_one_line_error_not_an_interruption(trained, data, tmp_path):
    run_dir = copy_run(trained, tmp_path)
    newest = sorted(run_dir.glob("checkpoint-*"))[-1]
    (newest / "state.pt").write_bytes(b"")
    line = one_line_error(run("evaluate", newest, "-m", data / "manifest.jsonl", "-o", tmp_path / "e",
                              "--device", "cpu"), 1)
    assert f"{newest / 'state.pt'}: unreadable" in line


# --- 10. damaged exports and checkpoints, unusable devices, damaged images ------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _other_embed_size(path: Path) -> None:
    text = path.read_text()
    path.write_text(text.replace("embed_dim = 16", "embed_dim = 24"))


def _other_text_encoder(path: Path) -> None:
    path.write_text(path.read_text().replace('text_encoder = "tiny-bert"', 'text_encoder = "minilm"'))


@pytest.mark.parametrize(("where", "damage"), [
    ("final/heads.safetensors", _truncate),
    ("final/heads.safetensors", lambda p: p.write_bytes(b"")),
    ("final/text_encoder/model.safetensors", _truncate),
    ("final/config.toml", _other_embed_size),
    ("checkpoint-0000002/state.pt", _truncate),
    ("checkpoint-0000002/state.pt", lambda p: p.write_bytes(os.urandom(2000))),
    ("checkpoint-0000002/config.toml", _other_embed_size),
    ("checkpoint-0000002/config.toml", _other_text_encoder),
])
def test_10_a_damaged_export_or_checkpoint_is_a_one_line_error(trained, data, tmp_path, where, damage):
    run_dir = copy_run(trained, tmp_path)
    damage(run_dir / where)
    target = run_dir / where.split("/")[0]
    line = one_line_error(run("evaluate", target, "-m", data / "manifest.jsonl", "-o", tmp_path / "e",
                              "--device", "cpu"), 1)
    assert str(target) in line
    line = one_line_error(run("explain", target, "-i", data / "images" / "sample-002.png", "-r", "Clear lungs.",
                              "-o", tmp_path / "x.png", "--device", "cpu"), 1)
    assert str(target) in line


def test_10_resume_falls_back_from_a_truncated_newest_checkpoint(trained, tmp_path):
    run_dir = copy_run(trained, tmp_path)
    _truncate(run_dir / "checkpoint-0000002" / "state.pt")
    result = run("pretrain", "-o", run_dir, "--resume", "--max-steps", "3", "-q")
    assert result.exit_code == 0, result.output
    assert "checkpoint-0000002/state.pt: unreadable" in result.stderr and "trying the checkpoint before it" in result.stderr
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # step 2 trained again from checkpoint 1


@pytest.mark.parametrize("command", ["evaluate", "explain", "evaluate-nli"])
def test_10_a_device_this_machine_lacks_is_a_one_line_usage_error(trained, data, tmp_path, command):
    fixtures = Path(__file__).parent / "fixtures"
    args = {"evaluate": ["evaluate", trained, "-m", data / "manifest.jsonl", "-o", tmp_path / "e"],
            "explain": ["explain", trained, "-i", data / "images" / "sample-002.png", "-r", "Clear lungs.",
                        "-o", tmp_path / "x.png"],
            "evaluate-nli": ["evaluate-nli", trained, "--train", fixtures / "nli_train.jsonl",
                             "--test", fixtures / "nli_test.jsonl", "-o", tmp_path / "n"]}[command]
    for device in ("mps", "cuda:7", "xla"):
        line = one_line_error(run(*args, "--device", device), 2)
        assert f"--device {device}" in line


@pytest.mark.parametrize("workers", ["0", "2"])
def test_10_a_damaged_training_image_is_replaced_and_reported_not_a_traceback(data, tmp_path, workers):
    folder = Path(shutil.copytree(data, tmp_path / "data"))
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    train_images = [folder / r["image"] for r in rows if r["split"] == "train"]
    _truncate(train_images[0])
    train_images[1].write_bytes(b"")
    train_images[2].write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    out = tmp_path / "run"
    result = run("pretrain", folder / "manifest.jsonl", "-o", out, "--parse-cache", folder / "parses.jsonl.gz",
                 "--max-steps", "3", "--workers", workers, "-q", *TINY)
    assert result.exit_code == 0, result.output
    assert (out / "final" / "heads.safetensors").is_file()
    assert "Traceback" not in result.output
    if workers == "0":  # a DataLoader worker's warning goes to the real stderr, not CliRunner's
        warnings = [line for line in result.stderr.splitlines() if "replaced by the next readable one" in line]
        assert warnings and all(any(str(p) in line for p in train_images[:3]) for line in warnings)


def test_10_evaluation_leaves_unreadable_images_out_and_counts_them(trained, data, tmp_path):
    folder = Path(shutil.copytree(data, tmp_path / "data"))
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    test_images = [folder / r["image"] for r in rows if r["split"] == "test"]
    test_images[0].write_bytes(b"")
    result = run("evaluate", trained, "-m", folder / "manifest.jsonl", "-o", tmp_path / "e", "--device", "cpu",
                 "--probe-split", "none")
    assert result.exit_code == 0, result.output
    evaluation = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert evaluation["unreadable_images"] == 1 and evaluation["n_images"] == len(test_images) - 1


# --- 12. staging folders a killed run left behind ------------------------------------------------


def test_12_the_next_run_removes_a_killed_runs_staging_folders(trained, tmp_path):
    import socket
    import subprocess

    run_dir = copy_run(trained, tmp_path)
    dead = subprocess.Popen(["true"])  # a process id that no longer runs
    dead.wait()
    host = socket.gethostname()
    stale = [run_dir / f".checkpoint-0000003.{host}-{dead.pid}-abc123.tmp",
             run_dir / f".final.{host}-{dead.pid}-old.tmp"]
    for folder in stale:
        folder.mkdir()
        (folder / "state.pt").write_bytes(b"partial")
    live = run_dir / f".checkpoint-0000003.{host}-{os.getpid()}-xyz789.tmp"
    live.mkdir()
    elsewhere = run_dir / f".checkpoint-0000003.another-host-{dead.pid}-abc123.tmp"
    elsewhere.mkdir()
    result = run("pretrain", "-o", run_dir, "--resume", "--max-steps", "3", "-q")
    assert result.exit_code == 0, result.output
    assert not any(folder.exists() for folder in stale)
    assert live.exists() and elsewhere.exists()  # a live process's, another host's: not ours to remove


def test_10_a_file_that_is_not_utf8_is_a_one_line_error(trained, data, tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"alpha = 0.1 # caf\xe9\n")
    fixtures = Path(__file__).parent / "fixtures"
    for args, code in [
        (["pretrain", "-c", latin1, "-o", tmp_path / "r"], 2),
        (["benchmark", "ablation", "--config", latin1, "-o", tmp_path / "a", "--device", "cpu"], 2),
        (["explain", trained, "-i", data / "images" / "sample-002.png", "-r", f"@{latin1}", "-o",
          tmp_path / "x.png", "--device", "cpu"], 2),
        (["evaluate-nli", trained, "--train", latin1, "--test", fixtures / "nli_test.jsonl", "--device", "cpu",
          "-o", tmp_path / "n"], 1),
    ]:
        line = one_line_error(run(*args), code)
        assert str(latin1) in line

"""Issue 12, case 12: SIGINT, SIGTERM and SIGHUP end `radperturb perturb` and its spaCy workers
(`--n-process 2`) with one line and status 128 + signal, leaving no temporary file; SIGKILL of the
main process takes the workers with it, and the next run removes the temporary files it left.

Real subprocesses (signals need a process of their own); Linux only, for /proc and
PR_SET_PDEATHSIG."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ["The heart is normal in size.", "There is a small left pleural effusion.", "No pneumothorax.",
             "Mild cardiomegaly is stable.", "The lungs are clear.", "No acute cardiopulmonary disease."]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Enough reports that two spaCy workers are busy for far longer than the test waits."""
    path = tmp_path_factory.mktemp("corpus") / "reports.jsonl"
    with path.open("w") as handle:
        for i in range(20_000):
            text = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(4))
            handle.write(json.dumps({"id": f"r{i}", "text": text}) + "\n")
    return path


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(corpus: Path, out: Path, n_process: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "perturb", str(corpus), "-o", str(out), "--n-process", str(n_process),
         "-k", "reverse_sentence", "-q"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("signum", "message"), [
    (signal.SIGINT, "interrupted"),
    (signal.SIGTERM, "terminated by SIGTERM"),
    (signal.SIGHUP, "terminated by SIGHUP"),
])
def test_12_a_signal_ends_the_run_and_both_spacy_workers_leaving_no_temp_file(corpus, tmp_path, signum, message):
    out = tmp_path / "out"
    process = start(corpus, out / "neg.jsonl", n_process=2)
    try:
        wait_for(lambda: len(children(process.pid)) >= 2 or process.poll() is not None, 120, "two spaCy workers")
        workers = children(process.pid)
        assert len(workers) >= 2, process.communicate()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines() == [f"radperturb perturb: error: {message}"], stderr
    wait_for(lambda: not any(alive(w) for w in workers), 10, "the workers to end")
    assert leftovers(out) == []


def test_12_sigterm_with_one_process_removes_the_output_and_rejects_temp_files(corpus, tmp_path):
    out = tmp_path / "out"
    process = start(corpus, out / "neg.jsonl", n_process=1)
    try:
        wait_for(lambda: len(leftovers(out) if out.exists() else []) >= 2 or process.poll() is not None, 120,
                 "the temporary output and rejects files")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines() == ["radperturb perturb: error: terminated by SIGTERM"]
    assert leftovers(out) == []


def test_12_sigkill_takes_the_workers_along_and_the_next_run_removes_its_temp_files(corpus, tmp_path):
    out = tmp_path / "out"
    process = start(corpus, out / "neg.jsonl", n_process=2)
    try:
        wait_for(lambda: len(children(process.pid)) >= 2 or process.poll() is not None, 120, "two spaCy workers")
        workers = children(process.pid)
        process.kill()
        process.wait(timeout=30)
    finally:
        process.kill()
    wait_for(lambda: not any(alive(w) for w in workers), 10, "the orphaned workers to end")
    stale = leftovers(out)
    assert len(stale) == 2 and all(name.endswith(".tmp") for name in stale)  # SIGKILL leaves them
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"id": "a", "text": SENTENCES[0]}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    again = subprocess.run([sys.executable, "-m", "cli", "perturb", str(small), "-o", str(out / "neg.jsonl"),
                            "-k", "reverse_sentence", "-q"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert leftovers(out) == ["neg.jsonl", "neg.rejects.jsonl"]

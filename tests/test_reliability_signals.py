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
from typer.testing import CliRunner

from cli.app import app

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
    again = CliRunner().invoke(app, ["perturb", str(small), "-o", str(out / "neg.jsonl"), "-k", "reverse_sentence",
                                     "-q"])
    assert again.exit_code == 0, again.output
    assert leftovers(out) == ["neg.jsonl", "neg.rejects.jsonl"]


LOST_EXCEPTION = """
import os, signal, sys, time
from cli import processes
processes.GRACE_S = 0.5
processes.install()

class Finalised:
    def __del__(self):  # Python ignores an exception raised here, the signal's too
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)

Finalised()  # made and dropped at once: __del__ runs, the signal arrives inside it
print("the exception was lost", flush=True)
time.sleep(30)
print("still running", flush=True)
"""


def test_12_a_run_whose_signal_exception_is_lost_still_ends_in_the_grace_time():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", LOST_EXCEPTION], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 143
    assert done.stdout == "the exception was lost\n"
    assert "radperturb: terminated by SIGTERM (did not unwind in 0.5 s)" in done.stderr
    assert time.monotonic() - started < 20


FORK_WINDOW = """
import multiprocessing, os, signal, time

def hook():  # a Python fork hook, like the one `logging` registers: a signal lands inside it
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.1)

os.register_at_fork(after_in_parent=hook)
from cli import processes
processes.install()
worker = multiprocessing.Process(target=time.sleep, args=(30,))
try:
    worker.start()
    time.sleep(5)
    print("still running", flush=True)
except processes.Terminated as err:
    print(f"unwound: {err}; worker alive: {worker.is_alive()}", flush=True)
    os._exit(err.exit_code)
"""


def test_12_a_signal_that_arrives_while_a_worker_is_forked_is_not_lost():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", FORK_WINDOW], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout == "unwound: terminated by SIGTERM; worker alive: False\n", done.stderr
    assert done.returncode == 143

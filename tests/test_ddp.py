"""Issue 12, case 13: under `torchrun --nproc-per-node 2` (gloo on CPU, tiny encoders) the trainer
trains every loss setting — the ablation's (PLACE's included) and the one without the global
term — and one DDP step equals one process on the global batch (losses and gradients of the
global and perturbation terms, as docs/pretrain.md says). The work runs in tests/ddp_worker.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pretrain.experiments.ablation import SETTINGS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory, parser) -> Path:
    from perturb.io.parse_cache import write_parse_cache
    from pretrain.data.reports import read_reports
    from pretrain.phantoms.phantom_set import build_phantom_set

    folder = tmp_path_factory.mktemp("ddp-data")
    reports, _ = read_reports(ROOT / "data_samples" / "reports.jsonl")
    build_phantom_set(reports, folder, folder / "manifest.jsonl", size=32)
    write_parse_cache(folder / "parses.jsonl", ((r.id, r.text, p) for r, p in
                                                zip(reports, parser.parse_many(r.text for r in reports))))
    return folder


def test_13_torchrun_trains_every_setting_and_one_step_equals_one_process_on_the_global_batch(data, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(ROOT / "tests" / "ddp_worker.py"), str(data / "manifest.jsonl"), str(data / "parses.jsonl"),
               str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    for rank in ranks:
        assert rank["world_size"] == 2
        for name, outcome in rank["settings"].items():
            assert isinstance(outcome, dict), f"rank {rank['rank']}, {name}: {outcome}"
    for name, outcome in ranks[0]["settings"].items():
        assert outcome["steps"] == [1, 2], name
        assert (tmp_path / name / "final" / "heads.safetensors").is_file(), name
    assert set(ranks[0]["settings"]) == {*SETTINGS, "no_global"}
    agreement = ranks[0]["agreement"]
    assert agreement["terms"] == ["global", "loss", "pert", "pert_acc"]
    assert agreement["max_term_difference"] < 1e-5, agreement
    assert agreement["max_grad_difference"] < 1e-5 * max(1.0, agreement["max_grad"]), agreement

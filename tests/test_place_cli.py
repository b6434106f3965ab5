"""PLACE from the command line on CPU: `pretrain --pcma --cce` trains, `explain --queries` draws
where each pathology query looks and names its sentence, and `benchmark ablation --settings
place` trains and evaluates the PLACE setting (tiny encoders, phantoms at 32 px, one step)."""

from __future__ import annotations

import json

import pytest

from tests.test_eval_cli import PNG, TINY, manifest, run, run_dir  # noqa: F401 (manifest, run_dir: fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def place_run(manifest, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("place")
    result = run("pretrain", manifest, "--out-dir", out, "--max-steps", "1", "--pcma", "--cce",
                 "--place-queries", "4", "--quiet", *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_pretrain_with_the_place_flags_logs_both_terms(place_run):
    row = json.loads((place_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"pcma", "cce", "temp_pcma"} <= set(row)
    saved = (place_run / "config.toml").read_text()
    assert "use_pcma = true" in saved and "place_queries = 4" in saved


def test_explain_queries_draws_one_panel_per_query_and_needs_a_vpoe(
        place_run, run_dir, manifest, tmp_path):  # noqa: F811
    image = manifest.parent / "images" / "sample-002.png"
    out = tmp_path / "queries.png"
    report = "Small left pleural effusion. No pneumothorax."
    result = run("explain", place_run, "--image", image, "--report", report, "--queries", "--out", out,
                 "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "(4 queries)" in result.stderr and out.read_bytes().startswith(PNG)
    plain = run("explain", run_dir, "--image", image, "--report", report, "--queries", "--out", out,
                "--device", "cpu")
    assert plain.exit_code == 1 and "the model has no VPOE" in plain.stderr


def test_the_ablation_has_a_place_setting(manifest, tmp_path):  # noqa: F811
    out = tmp_path / "ablation"
    result = run("benchmark", "ablation", "--manifest", manifest, "--out", out, "--settings", "place",
                 "--seeds", "0", "--max-steps", "1", *TINY)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "ablation.json").read_text())["done"] == {"place": [0]}
    saved = (out / "runs" / "place-seed0" / "config.toml").read_text()
    assert "use_pcma = true" in saved and "use_cce = true" in saved and "use_pert = false" in saved

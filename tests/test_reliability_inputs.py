"""Issue 12, the data cases: bad rows never abort a run, inputs are never overwritten, a parse cache
is checked against the text it serves, keys are unique, tables are readable in a pipe.

Each test reproduces a case of the issue through the command line (CliRunner, in-process with the
CLI's cached spaCy parser); the numbers in the names are the issue's."""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from perturb.io.spacy_model import load_parser
from perturb.parser import MAX_TEXT_LENGTH

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data_samples" / "reports.jsonl"
GOOD = ["The heart is normal in size.", "There is a small left pleural effusion.", "No pneumothorax.",
        "Mild cardiomegaly is stable.", "The lungs are clear."]


@pytest.fixture(scope="module")
def parser():
    return load_parser(None)


def invoke(*args, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(app, [str(a) for a in args], input=input)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def corpus(path: Path, n: int = 5) -> Path:
    return write_rows(path, [{"id": f"r{i}", "text": GOOD[i % len(GOOD)]} for i in range(n)])


# --- 2. plugins run code ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["perturb", "show", "list"])
def test_2_the_plugin_option_says_that_it_runs_the_modules_code(command):
    result = invoke(command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "runs its code, as any import does" in text and "docs/reliability.md" in text


# --- 3. an output that is the input ------------------------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--rejects", "--cache-parses"])
@pytest.mark.parametrize("alias", ["same path", "hard link", "symlink"])
def test_3_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, parser, option, alias):
    source = corpus(tmp_path / "reports.jsonl")
    before = source.read_bytes()
    target = tmp_path / "alias.jsonl"
    if alias == "same path":
        target = source
    elif alias == "hard link":
        os.link(source, target)
    else:
        target.symlink_to(source)
    outputs = {"-o": tmp_path / "out.jsonl", option: target}
    args = [a for pair in outputs.items() for a in pair]
    line = one_line_error(invoke("perturb", source, *args, "-q"), 2)
    assert str(target) in line and "input" in line
    assert source.read_bytes() == before


def test_3_other_commands_refuse_to_write_over_their_inputs(tmp_path, parser):
    reports = tmp_path / "reports.jsonl"
    reports.write_bytes(SAMPLES.read_bytes())
    before = reports.read_bytes()
    line = one_line_error(invoke("data", "phantoms", "-r", reports, "--out", tmp_path / "ph",
                                 "--manifest", reports, "--size", "16", "-q"), 2)
    assert str(reports) in line
    assert reports.read_bytes() == before
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("")
    line = one_line_error(invoke("pretrain-cache", manifest, "-o", manifest, "-q"), 2)
    assert str(manifest) in line
    line = one_line_error(invoke("data", "openi", "-o", reports, "--source", reports), 2)
    assert "is an input" in line
    assert reports.read_bytes() == before


# --- 4. devices, FIFOs and symlinks given as outputs ---------------------------------------------


def test_4_a_symlink_output_stays_a_link_to_the_file_it_names(tmp_path, parser):
    source = corpus(tmp_path / "reports.jsonl")
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "neg.jsonl"
    target.write_text("old\n")
    link = tmp_path / "neg.jsonl"
    link.symlink_to(target)
    result = invoke("perturb", source, "-o", link, "-k", "reverse_sentence", "-q")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert [row["id"] for row in jsonl(target)] == [f"r{i}" for i in range(5)]


def test_4_a_fifo_output_is_written_into_not_replaced(tmp_path, parser):
    source = corpus(tmp_path / "reports.jsonl")
    fifo = tmp_path / "neg.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = invoke("perturb", source, "-o", fifo, "--output-format", "jsonl", "-k", "reverse_sentence")
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert fifo.is_fifo(), "the FIFO was replaced by a regular file"
    assert [json.loads(line)["id"] for line in received[0].decode().splitlines()] == [f"r{i}" for i in range(5)]
    # Rejects of a non-regular output go to stderr: nothing is made beside a device or FIFO.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neg.fifo", "reports.jsonl"]


# --- 5. a lone surrogate, an overlong report ----------------------------------------------------


BAD_UNICODE = [
    '{"id": "s1", "text": "No effusion \\ud800 seen."}',
    '{"id": "s\\udfff", "text": "Heart normal."}',
]


def test_5_a_lone_surrogate_or_an_overlong_report_is_a_reject_and_the_run_goes_on(tmp_path, parser):
    source = tmp_path / "reports.jsonl"
    lines = [json.dumps({"id": "a", "text": GOOD[0]}), *BAD_UNICODE,
             json.dumps({"id": "long", "text": "word " * (MAX_TEXT_LENGTH // 5 + 1)}),
             json.dumps({"id": "b", "text": GOOD[1]})]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "neg.jsonl"
    result = invoke("perturb", source, "-o", out, "-k", "reverse_sentence", "-q")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in jsonl(out)] == ["a", "b"]
    rejects = {r["line"]: r["reason"] for r in jsonl(tmp_path / "neg.rejects.jsonl")}
    assert set(rejects) == {2, 3, 4}
    assert "lone surrogate U+D800" in rejects[2] and "lone surrogate U+DFFF" in rejects[3]
    assert "longer than the parser's limit" in rejects[4]


def test_5_show_gets_a_one_line_error_for_text_it_cannot_parse(parser):
    line = one_line_error(invoke("show", "No effusion \ud800 seen."), 2)
    assert "lone surrogate" in line
    line = one_line_error(invoke("show", "-", input="x" * (MAX_TEXT_LENGTH + 1)), 2)
    assert "longer than the parser's limit" in line


def test_5_phantoms_reject_such_rows_and_still_write_the_manifest(tmp_path):
    reports = tmp_path / "reports.jsonl"
    rows = [json.dumps({"id": "ok", "findings": "Clear lungs.", "impression": "", "mesh": ["normal"]}),
            '{"id": "s\\ud800", "findings": "Clear.", "impression": "", "mesh": ["normal"]}',
            '{"id": "t", "findings": "Effusion \\udc80.", "impression": "", "mesh": ["normal"]}']
    reports.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = invoke("data", "phantoms", "-r", reports, "--out", tmp_path / "ph", "--size", "16")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in jsonl(tmp_path / "ph" / "manifest.jsonl")] == ["ok"]
    assert "2 rejected rows" in result.stderr and "line 2:" in result.stderr and "line 3:" in result.stderr


def test_5_pretrain_cache_rejects_bad_manifest_rows_and_caches_the_others(tmp_path, parser):
    manifest = tmp_path / "m.jsonl"
    row = {"image": "x.png", "impression": "", "tags": [], "split": "train"}
    lines = [json.dumps({**row, "id": "a", "findings": GOOD[0]}),
             json.dumps({**row, "id": "b", "findings": "Effusion \ud800."}),
             json.dumps({**row, "id": "c", "findings": "x" * (MAX_TEXT_LENGTH + 1)}),
             json.dumps({**row, "id": "a", "findings": GOOD[1]})]
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "parses.jsonl.gz"
    result = invoke("pretrain-cache", manifest, "-o", out)
    assert result.exit_code == 0, result.output
    from perturb.io.parse_cache import ParseCache

    assert list(ParseCache.load(out).keys()) == ["a"]
    stderr = " ".join(result.stderr.split())
    assert "3 rejected rows" in stderr and f"{manifest}:2:" in stderr and f"{manifest}:4: duplicate id 'a'" in stderr


# --- 6. an unterminated CSV quote ----------------------------------------------------------------


def test_6_an_unterminated_csv_quote_costs_its_own_row_not_the_rest_of_the_file(tmp_path, parser):
    source = tmp_path / "reports.csv"
    lines = ["id,text", "r0,The heart is normal.", 'r1,"No effusion', *(f"r{i},{GOOD[i % 5]}" for i in range(2, 101))]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "neg.jsonl"
    result = invoke("perturb", source, "-o", out, "-k", "reverse_sentence")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in jsonl(out)] == ["r0", *(f"r{i}" for i in range(2, 101))]
    rejects = jsonl(tmp_path / "neg.rejects.jsonl")
    assert [r["line"] for r in rejects] == [3] and "bad CSV row" in rejects[0]["reason"]
    counts = dict(re.findall(r"│ (read|written|rejected)\s*│\s*([\d,]+)", result.stderr))
    assert counts == {"read": "101", "written": "100", "rejected": "1"}


# --- 7. a parse cache whose payloads were swapped ------------------------------------------------


def test_7_a_cached_parse_that_does_not_render_the_text_is_not_used(tmp_path, parser):
    source = corpus(tmp_path / "reports.jsonl", n=2)
    cache = tmp_path / "parses.jsonl"
    first = tmp_path / "first.jsonl"
    assert invoke("perturb", source, "-o", first, "--cache-parses", cache, "-q").exit_code == 0
    rows = jsonl(cache)
    rows[0]["parsed"], rows[1]["parsed"] = rows[1]["parsed"], rows[0]["parsed"]
    write_rows(cache, rows)
    again = tmp_path / "again.jsonl"
    result = invoke("perturb", source, "-o", again, "--cache-parses", cache)
    assert result.exit_code == 0, result.output
    assert [r["original"] for r in jsonl(again)] == GOOD[:2]
    assert again.read_text() == first.read_text()
    assert re.search(r"parsed \(spaCy / cache\)\s*│\s*2 / 0", result.stderr)


# --- 8. keys -------------------------------------------------------------------------------------


def test_8_keys_are_unique_a_repeated_one_is_a_reject_naming_the_first(tmp_path, parser):
    source = tmp_path / "reports.jsonl"
    write_rows(source, [
        {"id": "1", "text": GOOD[0]},
        {"id": 1, "text": GOOD[1]},             # the same key as line 1
        {"text": GOOD[2]},                        # keyed by its line number: "3"
        {"id": "3", "text": GOOD[3]},            # collides with line 3's key
        {"id": "x", "text": GOOD[4]},
        {"id": "x", "text": GOOD[4]},            # a plain duplicate
    ])
    out = tmp_path / "neg.jsonl"
    cache = tmp_path / "parses.jsonl"
    result = invoke("perturb", source, "-o", out, "--cache-parses", cache, "-k", "reverse_sentence", "-q")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in jsonl(out)] == ["1", "3", "x"]
    rejects = {r["line"]: r["reason"] for r in jsonl(tmp_path / "neg.rejects.jsonl")}
    assert rejects == {
        2: f"duplicate id '1': {source}:1 has it",
        4: f"duplicate id '3': {source}:3 (its line number, as it has no id) has it",
        6: f"duplicate id 'x': {source}:5 has it",
    }
    rerun = invoke("perturb", source, "-o", out, "--cache-parses", cache, "-k", "reverse_sentence")
    assert re.search(r"parsed \(spaCy / cache\)\s*│\s*0 / 3", rerun.stderr), rerun.stderr


# --- 9. truncated gzip files ---------------------------------------------------------------------


def test_9_a_truncated_gzip_cache_or_manifest_is_a_one_line_error_naming_it(tmp_path, parser):
    source = corpus(tmp_path / "reports.jsonl")
    cache = tmp_path / "parses.jsonl.gz"
    assert invoke("perturb", source, "-o", tmp_path / "a.jsonl", "--cache-parses", cache, "-q").exit_code == 0
    cache.write_bytes(cache.read_bytes()[:-20])
    line = one_line_error(invoke("perturb", source, "-o", tmp_path / "b.jsonl", "--cache-parses", cache), 1)
    assert str(cache) in line
    manifest = tmp_path / "m.jsonl.gz"
    with gzip.open(manifest, "wt") as handle:
        for i in range(200):
            handle.write(json.dumps({"id": f"m{i}", "image": "x.png", "findings": GOOD[i % 5],
                                     "impression": "", "tags": [], "split": "train"}) + "\n")
    manifest.write_bytes(manifest.read_bytes()[:-30])
    line = one_line_error(invoke("pretrain-cache", manifest, "-o", tmp_path / "p.jsonl"), 1)
    assert str(manifest) in line and "truncated" in line


# --- 10. a plugin kind that raises ---------------------------------------------------------------


RAISING_PLUGIN = """
from perturb import register

@register("raises_on_effusion", description="Fails on some reports.")
def raises_on_effusion(report, rng, scope):
    if "effusion" in report.tokens:
        raise ValueError("cannot handle effusion\\nsecond line")
    return None
"""


def test_10_a_plugin_kind_that_raises_rejects_those_reports_only(tmp_path, parser, monkeypatch):
    import sys

    import perturb

    before = dict(perturb.PERTURBATIONS)
    (tmp_path / "rp_raising_plugin.py").write_text(RAISING_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        source = corpus(tmp_path / "reports.jsonl")
        out = tmp_path / "neg.jsonl"
        result = invoke("perturb", source, "-o", out, "--plugin", "rp_raising_plugin", "-q")
        assert result.exit_code == 0, result.output
        assert [row["id"] for row in jsonl(out)] == ["r0", "r2", "r3", "r4"]
        assert jsonl(tmp_path / "neg.rejects.jsonl") == [{
            "source": str(source), "line": 2, "id": "r1",
            "reason": "ValueError: cannot handle effusion"}]
        line = one_line_error(invoke("show", GOOD[1], "--plugin", "rp_raising_plugin"), 1)
        assert "raises_on_effusion" in line and "cannot handle effusion" in line
    finally:
        perturb.PERTURBATIONS.clear()
        perturb.PERTURBATIONS.update(before)
        sys.modules.pop("rp_raising_plugin", None)


# --- 11. a wheel that is not one -----------------------------------------------------------------


def test_11_a_garbage_source_wheel_is_an_error_not_the_cached_reports(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    xml = ('<eCitation><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>'
           '<AbstractText Label="FINDINGS">Cached.</AbstractText></Abstract></Article>'
           '</MedlineCitation></eCitation>')
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.xml").write_text(xml.format(n=1))
    with tarfile.open(cache / "NLMCXR_reports.tgz", "w:gz") as archive:
        archive.add(tmp_path / "x", arcname="ecgen-radiology")
    monkeypatch.setenv("RADPERTURB_CACHE", str(cache))
    garbage = tmp_path / "torchxrayvision-9.9-py3-none-any.whl"
    garbage.write_bytes(b"not a zip file")
    out = tmp_path / "openi.jsonl"
    line = one_line_error(invoke("data", "openi", "-o", out, "--source", garbage), 2)
    assert str(garbage) in line
    assert not out.exists()


# --- 14. tables in a pipe ------------------------------------------------------------------------


def test_14_tables_in_a_pipe_are_as_wide_as_they_need(tmp_path, parser):
    """`benchmark ablation` over finished runs prints its table; piped, no cell is cut."""
    from pretrain.experiments.ablation import SETTINGS

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "image": "a.png", "findings": GOOD[0], "impression": "",
                                    "tags": [], "split": "test"}) + "\n")
    (tmp_path / "parses.jsonl").write_text("")
    out = tmp_path / "ablation"
    (out / "results").mkdir(parents=True)
    result_row = {"semantic": {"paper": {"accuracy": 0.123456, "chance": 0.2},
                               "all": {"accuracy": 0.654321, "chance": 0.1}},
                  "retrieval": {"image_to_report": {"R@1": 0.111111}, "chance": {"R@1": 0.05}}}
    for setting in SETTINGS:
        for seed in (0, 1):
            (out / "results" / f"{setting}-seed{seed}.json").write_text(json.dumps(result_row))
    result = invoke("benchmark", "ablation", "-m", manifest, "-o", out, "--seeds", "0,1",
                    "--settings", ",".join(SETTINGS), "--parse-cache", tmp_path / "parses.jsonl",
                    "--device", "cpu", "-q", env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    semantic = next(line for line in result.stdout.splitlines() if line.startswith("│ semantic_paper "))
    assert semantic.count("0.123 ± 0.000") == len(SETTINGS)

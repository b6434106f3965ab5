"""`radperturb perturb`: accounting, errors, shards, stdin/stdout, CSV round trips, the parse cache
and bounded memory — with real spaCy parses, in-process (CliRunner) and as real subprocesses."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import perturb
from cli.app import app
from perturb.io.corpus_writers import JsonlCorpusWriter
from perturb.io.pipeline import ParseSource, PerturbOptions, perturb_records
from perturb.io.records import Record, Schema, read_records
from perturb.io.spacy_model import load_parser, model_identity

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "The heart is normal in size.",
    "There is a small left pleural effusion.",
    "No pneumothorax.",
    "The lungs are clear.",
    "Mild cardiomegaly is stable.",
    "Degenerative changes of the thoracic spine.",
    "Right lower lobe opacity may represent pneumonia.",
    "No acute cardiopulmonary disease.",
]
ALL_KINDS = list(perturb.PERTURBATIONS)


@pytest.fixture(scope="module")
def parser():
    """The CLI's own cached parser: in-process runs below reuse it instead of loading spaCy again."""
    return load_parser(None)


def report(i: int) -> dict:
    findings = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(2))
    return {"id": f"r{i:03d}", "findings": findings, "impression": SENTENCES[(3 * i) % len(SENTENCES)]}


BAD_ROWS = [  # (raw line, reason prefix)
    (b'{"id": "bad-json", "text": "unterminated', "malformed JSON"),
    (b'{"id": "no-text", "report": "Heart normal."}', "missing field"),
    (b'{"id": "latin1", "text": "Caf\xe9 noted."}', "undecodable bytes"),
    (b'{"id": "empty", "findings": "", "impression": ""}', "empty text"),
    (b'{"id": "number", "text": 12}', "field 'text' is not a string"),
    (b'"just a string"', "not a JSON object"),
]


def write_corpus(path: Path, n_good: int = 24) -> tuple[list[dict], dict[int, str]]:
    """Good rows with the bad ones spread among them; returns the good rows and bad line → reason."""
    good = [report(i) for i in range(n_good)]
    lines: list[bytes] = []
    bad: dict[int, str] = {}
    rows = iter(good)
    for k, row in enumerate(rows):
        lines.append(json.dumps(row).encode())
        if k % 4 == 1 and len(bad) < len(BAD_ROWS):
            raw, reason = BAD_ROWS[len(bad)]
            lines.append(raw)
            bad[len(lines)] = reason
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good, bad


def invoke(*args: str, input: bytes | str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def summary_counts(stderr: str) -> dict[str, int]:
    return {
        k: int(v.replace(",", "")) for k, v in re.findall(r"│ (read|written|rejected)\s*│\s*([\d,]+)", stderr)
    }


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_every_row_is_written_or_rejected_with_its_line_and_reason(tmp_path, parser):
    good, bad = write_corpus(tmp_path / "reports.jsonl")
    out = tmp_path / "out" / "neg.jsonl"
    result = invoke("perturb", tmp_path / "reports.jsonl", "-o", out, "--seed", 5)
    assert result.exit_code == 0, result.output
    rows = jsonl(out)
    rejects = jsonl(tmp_path / "out" / "neg.rejects.jsonl")
    assert summary_counts(result.stderr) == {"read": 30, "written": 24, "rejected": 6}
    assert len(rows) + len(rejects) == 30
    assert sorted(r["line"] for r in rejects) == sorted(bad)
    assert all(r["reason"].startswith(bad[r["line"]]) for r in rejects)
    assert all(r["source"] == str(tmp_path / "reports.jsonl") for r in rejects)
    assert [r["id"] for r in rows] == [g["id"] for g in good]
    texts = [f"{g['findings']}\n\n{g['impression']}" for g in good]
    for row, text in zip(rows, texts, strict=True):
        parsed = parser.parse(text)
        assert row["original"] == parsed.text == text
        assert [(p["kind"], p["draw"]) for p in row["perturbations"]] == [(k, 0) for k in ALL_KINDS]
        for negative in row["perturbations"]:
            expected = perturb.apply(parsed, negative["kind"], seed=5, key=row["id"])
            assert (negative["text"], negative["applicable"]) == (expected.text, expected.applicable)
        assert row["meta"] == {
            "radperturb": perturb.__version__,
            "model": parser.model_name,
            "model_version": parser.model_version,
            "seed": 5,
            "scope": "report",
        }


def test_on_error_fail_stops_at_the_first_bad_row_and_keeps_the_old_output(tmp_path, parser):
    _, bad = write_corpus(tmp_path / "reports.jsonl")
    out = tmp_path / "neg.jsonl"
    out.write_text("previous run\n")
    result = invoke("perturb", tmp_path / "reports.jsonl", "-o", out, "--on-error", "fail")
    first = min(bad)
    assert one_line_error(result, 1) == (
        f"radperturb perturb: error: {tmp_path / 'reports.jsonl'}:{first}: malformed JSON: "
        "Unterminated string starting at (column 28)"
    )
    assert out.read_text() == "previous run\n"
    assert not (tmp_path / "neg.rejects.jsonl").exists()


def test_shard_outputs_concatenated_equal_the_unsharded_run(tmp_path, parser):
    write_corpus(tmp_path / "reports.jsonl")
    common = ["-k", "shuffle_all_words,replace_adjectives_with_antonyms", "--per-kind", "2", "-q"]
    assert invoke("perturb", tmp_path / "reports.jsonl", "-o", tmp_path / "all.jsonl", *common).exit_code == 0
    shards, rejects = [], []
    for i in range(3):
        out = tmp_path / f"part-{i}.jsonl"
        result = invoke("perturb", tmp_path / "reports.jsonl", "-o", out, "--shard", f"{i}/3", *common)
        assert result.exit_code == 0, result.output
        shards.append(out.read_text())
        rejects += jsonl(tmp_path / f"part-{i}.rejects.jsonl")
    assert all(shards), "every shard got some records"
    concatenated = sorted("".join(shards).splitlines(), key=lambda line: json.loads(line)["id"])
    unsharded = sorted(
        (tmp_path / "all.jsonl").read_text().splitlines(), key=lambda line: json.loads(line)["id"]
    )
    assert concatenated == unsharded
    assert sorted(r["line"] for r in rejects) == sorted(
        r["line"] for r in jsonl(tmp_path / "all.rejects.jsonl")
    )


def test_negatives_do_not_depend_on_batch_size(tmp_path, parser):
    write_corpus(tmp_path / "reports.jsonl")
    outputs = []
    for batch in ("1", "7", "64"):
        out = tmp_path / f"b{batch}.jsonl"
        assert (
            invoke("perturb", tmp_path / "reports.jsonl", "-o", out, "--batch-size", batch, "-q").exit_code
            == 0
        )
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] == outputs[2]


def test_stdin_to_stdout_with_rejects_reported_on_stderr(parser):
    lines = "The heart is normal.\n\nNo pleural effusion.\n"
    result = invoke("perturb", "-", "-o", "-", "-k", "reverse_sentence", input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["original"]) for r in rows] == [
        ("1", "The heart is normal."),
        ("3", "No pleural effusion."),
    ]
    assert rows[0]["perturbations"][0]["text"] == "Normal is heart the."
    assert "rejected <stdin>:2: empty text" in result.stderr
    assert summary_counts(result.stderr) == {"read": 3, "written": 2, "rejected": 1}


CSV_TEXTS = [
    'Signal on T2/FLAIR, "marked", and/or edema.\nSecond line, here.',
    "Heart normal; lungs clear, no effusion.",
    'Comma, "quote" and a slash: left/right.\r\nWindows line end.',
]


@pytest.mark.parametrize("out_name", ["neg.csv", "neg.jsonl"])
def test_csv_fields_with_quotes_commas_slashes_and_newlines_round_trip(tmp_path, parser, out_name):
    src = tmp_path / "reports.csv"
    with src.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "findings", "impression"])
        writer.writerow(["c0", CSV_TEXTS[0], "No change."])
        writer.writerow(["c1", CSV_TEXTS[1], ""])
        writer.writerow(["c2", "too", "many", "columns"])
        writer.writerow(["c3", "", CSV_TEXTS[2]])
    out = tmp_path / out_name
    result = invoke("perturb", src, "-o", out, "-k", "shuffle_all_words,swap_adjacent_words", "-q")
    assert result.exit_code == 0, result.output
    expected = {"c0": CSV_TEXTS[0] + "\n\nNo change.", "c1": CSV_TEXTS[1], "c3": CSV_TEXTS[2]}
    if out_name.endswith(".csv"):
        with out.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 2 * len(expected)
        originals = {r["id"]: r["original"] for r in rows}
        assert {r["model"] for r in rows} == {parser.model_name}
    else:
        originals = {r["id"]: r["original"] for r in jsonl(out)}
    assert originals == expected
    assert all(parser.parse(text).text == text for text in expected.values())
    assert jsonl(tmp_path / "neg.rejects.jsonl") == [
        {"source": str(src), "line": 5, "id": None, "reason": "expected 3 columns, found 4"}
    ]


def test_cached_parses_are_reused_and_only_changed_records_reparsed(tmp_path, parser, monkeypatch):
    write_corpus(tmp_path / "reports.jsonl")
    cache = tmp_path / "parses.jsonl.gz"
    first = tmp_path / "first.jsonl"
    result = invoke("perturb", tmp_path / "reports.jsonl", "-o", first, "--cache-parses", cache)
    assert result.exit_code == 0 and "24 / 0" in result.stderr

    def no_parser(model):
        raise AssertionError("the parser was called although every parse is cached")

    monkeypatch.setattr("perturb.io.pipeline.load_parser", no_parser)
    second = tmp_path / "second.jsonl"
    result = invoke("perturb", tmp_path / "reports.jsonl", "-o", second, "--cache-parses", cache)
    assert result.exit_code == 0, result.output
    assert "0 / 24" in result.stderr
    assert second.read_text() == first.read_text()

    # One changed text and one new record: exactly those two are parsed; the rewritten cache keeps
    # the older entries this run did not touch.
    rows = [report(i) for i in range(3)]
    rows[0]["findings"] = "The heart is enlarged."
    rows.append({"id": "new", "text": "Small right pleural effusion."})
    (tmp_path / "edited.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    parsed_texts: list[str] = []

    class Counting:
        def parse_many(self, texts, **kwargs):
            texts = list(texts)
            parsed_texts.extend(texts)
            return parser.parse_many(texts, **kwargs)

    monkeypatch.setattr("perturb.io.pipeline.load_parser", lambda model: Counting())
    result = invoke(
        "perturb", tmp_path / "edited.jsonl", "-o", tmp_path / "third.jsonl", "--cache-parses", cache
    )
    assert result.exit_code == 0, result.output
    assert parsed_texts == [
        f"The heart is enlarged.\n\n{rows[0]['impression']}",
        "Small right pleural effusion.",
    ]
    from perturb.io.parse_cache import ParseCache

    rewritten = ParseCache.load(cache)
    assert sorted(rewritten.keys()) == sorted([f"r{i:03d}" for i in range(24)] + ["new"])
    assert rewritten.get("r000", parsed_texts[0]) is not None


def test_a_cache_from_another_model_is_not_used(tmp_path, parser):
    write_corpus(tmp_path / "reports.jsonl", n_good=4)
    cache = tmp_path / "parses.jsonl"
    assert (
        invoke(
            "perturb", tmp_path / "reports.jsonl", "-o", tmp_path / "a.jsonl", "--cache-parses", cache
        ).exit_code
        == 0
    )
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    for row in rows:
        row["parsed"]["model_version"] = "0.0.1"
    cache.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(
        "perturb", tmp_path / "reports.jsonl", "-o", tmp_path / "b.jsonl", "--cache-parses", cache
    )
    assert result.exit_code == 0 and "4 / 0" in result.stderr


def test_a_corrupt_cache_is_a_one_line_data_error(tmp_path, parser):
    write_corpus(tmp_path / "reports.jsonl", n_good=2)
    (tmp_path / "parses.jsonl").write_text("{not a cache row}\n")
    result = invoke(
        "perturb",
        tmp_path / "reports.jsonl",
        "-o",
        tmp_path / "a.jsonl",
        "--cache-parses",
        tmp_path / "parses.jsonl",
    )
    assert "parses.jsonl:1: not a parse-cache row" in one_line_error(result, 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jsonl", "-o", "x.jsonl"], "no such file: missing.jsonl"),
        (
            ["{corpus}", "-o", "x.jsonl", "-k", "shuffle_everything"],
            "unknown perturbation 'shuffle_everything'",
        ),
        (["{corpus}", "-o", "x.jsonl", "--shard", "4/4"], "bad --shard '4/4'"),
        (["{corpus}", "-o", "x.jsonl", "--model", "en_core_missing_sm"], "pip install"),
        (["{dat}", "-o", "x.jsonl"], "pass --format"),
        (["{corpus}", "-o", "x.jsonl", "--rejects", "x.jsonl"], "are the same file"),
        (
            ["{corpus}", "-o", "x.jsonl", "--plugin", "no_such_plugin_module"],
            "No module named 'no_such_plugin_module'",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.jsonl").write_text('{"id": "a", "text": "Heart normal."}\n')
    (tmp_path / "c.dat").write_text("Heart normal.\n")
    args = [a.format(corpus="c.jsonl", dat="c.dat") for a in args]
    line = one_line_error(invoke("perturb", *args), 2)
    assert line.startswith("radperturb perturb: error: ") and message in line
    assert not (tmp_path / "x.jsonl").exists()


def test_a_csv_without_text_columns_is_a_one_line_data_error(tmp_path):
    (tmp_path / "r.csv").write_text("id,report\n1,Heart normal.\n")
    line = one_line_error(invoke("perturb", tmp_path / "r.csv", "-o", tmp_path / "o.jsonl"), 1)
    assert "r.csv:1: missing field" in line and "--field" in line


def test_memory_stays_bounded_by_one_chunk_however_long_the_corpus(parser):
    """Structural proof: the pipeline never holds more than one chunk of records, so memory does
    not grow with the corpus (the readers are lazy too: tests/test_cli_io.py)."""
    pulled = 0

    def corpus():
        nonlocal pulled
        for i in range(10_000_000):  # far more than the test reads
            pulled += 1
            yield Record("gen", i + 1, str(i), SENTENCES[i % len(SENTENCES)])

    source = ParseSource(None, model_identity(None), batch_size=4)
    options = PerturbOptions(("shuffle_all_words",))
    stream = perturb_records(corpus(), source, options)
    for emitted in range(1, 5 * source.chunk_size() + 1):
        next(stream)
        assert emitted <= pulled <= emitted + source.chunk_size()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
def test_a_large_corpus_streams_in_flat_memory(tmp_path, parser):
    """20,000 short reports from a file to a file: resident memory after 4,000 records and at the end
    differ by little (holding every record instead adds about 110 MB here)."""

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

    texts = ["No effusion.", "Lungs clear.", "Heart normal.", "Mild cardiomegaly.", "No pneumothorax."]
    src = tmp_path / "big.txt"
    src.write_text("".join(f"{texts[i % 5]}\n" for i in range(20_000)))
    source = ParseSource(None, model_identity(None), batch_size=256)
    records = read_records([str(src)], Schema())
    with (tmp_path / "out.jsonl").open("w") as handle:
        writer = JsonlCorpusWriter(handle, {})
        for n, item in enumerate(perturb_records(records, source, PerturbOptions(("shuffle_all_words",))), 1):
            writer.write(item.record, item.parsed.text, item.results)
            if n == 4_000:
                early = rss_mb()
    assert n == 20_000
    assert rss_mb() - early < 40


def test_model_identity_is_what_the_parser_stamps_on_its_parses(parser):
    assert model_identity(None) == (parser.model_name, parser.model_version)
    assert parser.parse("No effusion.").model == parser.model_name


# ---- real subprocesses: the installed entry point, real pipes, real exit codes -----------------


def run_cli(*args: str, input: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)], input=input, capture_output=True, cwd=cwd, timeout=300
    )


def test_subprocess_pipes_stdin_to_stdout_quietly(tmp_path):
    proc = run_cli(
        "perturb",
        "-",
        "--format",
        "text",
        "-o",
        "-",
        "-q",
        "-k",
        "reverse_sentence",
        input=b"The heart is normal.\nNo pleural effusion.\n",
    )
    assert proc.returncode == 0 and proc.stderr == b""
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["perturbations"][0]["text"] for r in rows] == ["Normal is heart the.", "Effusion pleural no."]


def test_subprocess_errors_are_one_line_with_exit_codes(tmp_path):
    (tmp_path / "bad.jsonl").write_bytes(b'{"id": "x", "text": "caf\xe9"}\n')
    proc = run_cli("perturb", "bad.jsonl", "-o", "out.jsonl", "--on-error", "fail", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "radperturb perturb: error: bad.jsonl:1: undecodable bytes: not UTF-8 (byte 0xe9 at column 25)"
    ]
    assert not (tmp_path / "out.jsonl").exists()
    proc = run_cli("perturb", "bad.jsonl", "-o", "out.jsonl", "--model", "en_core_missing_sm", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and b"pip install" in proc.stderr


@pytest.mark.slow
def test_subprocess_worker_processes_give_the_same_corpus(tmp_path, parser):
    write_corpus(tmp_path / "reports.jsonl", n_good=40)
    assert invoke("perturb", tmp_path / "reports.jsonl", "-o", tmp_path / "one.jsonl", "-q").exit_code == 0
    two = run_cli(
        "perturb",
        "reports.jsonl",
        "-o",
        "two.jsonl",
        "-q",
        "--n-process",
        "2",
        "--batch-size",
        "8",
        cwd=tmp_path,
    )
    assert two.returncode == 0, two.stderr
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "two.jsonl").read_text()
    assert len((tmp_path / "one.jsonl").read_text().splitlines()) == 40

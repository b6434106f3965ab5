"""`radperturb show` and `radperturb list`, user plugins (module and entry point), help and version."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

import perturb
from cli.app import app
from cli.show_cmd import MOVED, REPLACED, highlighted
from cli.spacy_model import load_parser

REPORT = "The heart is mildly enlarged. There is a small left pleural effusion."
PLUGIN = """
from perturb import Edit, register

@register("first_word_last", description="Move the first word to the end.")
def first_word_last(report, rng, scope):
    words = report.layout.words
    if len(words) < 2:
        return None
    src = list(report.layout.identity)
    for p, q in zip(words, words[1:] + words[:1]):
        src[p] = q
    return Edit(src)
"""
ENTRY_POINT_PLUGIN = """
from perturb import Edit, register

@register("drop_nothing_ep", description="Entry-point demo.", word_preserving=False, needs=("pos",))
def drop_nothing_ep(report, rng, scope):
    return None
"""


@pytest.fixture(scope="module")
def parser():
    return load_parser(None)


@pytest.fixture
def registry_snapshot():
    """Plugins register into the process-wide registry: put it back after each test."""
    before = dict(perturb.PERTURBATIONS)
    modules = set(sys.modules)
    yield
    perturb.PERTURBATIONS.clear()
    perturb.PERTURBATIONS.update(before)
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.fixture
def user_plugin(tmp_path, monkeypatch, registry_snapshot) -> str:
    (tmp_path / "rp_user_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "rp_user_plugin"


@pytest.fixture
def entry_point_plugin(tmp_path, monkeypatch, registry_snapshot) -> None:
    """An installed distribution that declares a perturbation in the entry point group."""
    (tmp_path / "rp_ep_plugin.py").write_text(ENTRY_POINT_PLUGIN)
    dist = tmp_path / "rp_ep_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rp-ep-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[radperturb.perturbations]\ndemo = rp_ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(app, list(args), input=input)


WIDE = {"COLUMNS": "300"}  # no wrapping inside table cells


def test_show_puts_the_original_and_every_kind_side_by_side(parser):
    result = invoke("show", REPORT, "--seed", "1", env=WIDE)
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["original"] == REPORT
    report = parser.parse(REPORT)
    for kind in perturb.PERTURBATIONS:
        assert rows[kind] == perturb.apply(report, kind, seed=1).text


def test_show_marks_kinds_that_cannot_apply(parser):
    result = invoke("show", "No acute disease.", "-k", "reverse_sentence,shuffle_nouns_and_adj", env=WIDE)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.count("│") == 3]
    assert [line.split("│")[1].strip() for line in lines] == [
        "original",
        "reverse_sentence",
        "shuffle_nouns_and_adj",
        "n/a",
    ]
    assert lines[1].split("│")[2].strip() == "Disease acute no."


def test_show_colours_moved_and_replaced_words_differently(parser):
    report = parser.parse(REPORT)
    moved = perturb.apply(report, "reverse_sentence", seed=0)
    text = highlighted(report, moved)
    styled = {text.plain[s.start : s.end]: s.style for s in text.spans}
    assert styled["Effusion"] == MOVED and "." not in styled
    replaced = perturb.apply(report, "replace_adjectives_with_antonyms", seed=0)
    text = highlighted(report, replaced)
    styles = {text.plain[s.start : s.end]: s.style for s in text.spans}
    assert set(styles.values()) == {REPLACED}
    assert set(styles) == {r.new for r in replaced.replacements}
    # On a colour terminal the two kinds of change come out in different ANSI colours.
    result = invoke(
        "show",
        REPORT,
        "-k",
        "reverse_sentence,replace_adjectives_with_antonyms",
        env={"FORCE_COLOR": "1", **WIDE},
    )
    assert "\x1b[1;33mEffusion" in result.stdout and "\x1b[1;35m" in result.stdout


def test_show_with_an_id_reproduces_the_corpus_row(tmp_path, parser):
    (tmp_path / "r.jsonl").write_text(json.dumps({"id": "case-7", "text": REPORT}) + "\n")
    assert (
        invoke(
            "perturb", str(tmp_path / "r.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--seed", "3", "-q"
        ).exit_code
        == 0
    )
    row = json.loads((tmp_path / "o.jsonl").read_text())
    result = invoke("show", "-", "--id", "case-7", "--seed", "3", input=REPORT, env=WIDE)
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") == 3
    }
    assert {p["kind"]: p["text"] for p in row["perturbations"]} == {
        k: v for k, v in rows.items() if k not in ("original", "n/a")
    }


@pytest.mark.parametrize(
    "args, message",
    [(["show", "  "], "the report is empty"), (["show", "x", "-k", "nope"], "unknown perturbation 'nope'")],
)
def test_show_errors_are_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("radperturb show: error: ") and message in line


def test_list_shows_the_registry_and_json_for_scripts():
    table = invoke("list", env={"COLUMNS": "200"})
    assert table.exit_code == 0
    for spec in perturb.PERTURBATIONS.values():
        assert spec.name in table.stdout
    assert "changes words" in table.stdout and "needs pos" in table.stdout
    rows = json.loads(invoke("list", "--json").stdout)
    assert [r["name"] for r in rows] == list(perturb.PERTURBATIONS)
    antonyms = next(r for r in rows if r["name"] == "replace_adjectives_with_antonyms")
    assert all(r["builtin"] for r in rows)  # the paper's nine and the four clinical edits
    assert antonyms == {
        "name": "replace_adjectives_with_antonyms",
        "word_preserving": False,
        "needs": ["pos"],
        "description": perturb.PERTURBATIONS["replace_adjectives_with_antonyms"].description,
        "builtin": True,
    }


def test_list_includes_plugins_by_module_and_by_entry_point(user_plugin, entry_point_plugin):
    rows = {r["name"]: r for r in json.loads(invoke("list", "--json", "--plugin", user_plugin).stdout)}
    assert rows["first_word_last"]["builtin"] is False and rows["first_word_last"]["word_preserving"] is True
    assert rows["drop_nothing_ep"] == {
        "name": "drop_nothing_ep",
        "word_preserving": False,
        "needs": ["pos"],
        "description": "Entry-point demo.",
        "builtin": False,
    }
    table = invoke("list", env={"COLUMNS": "200"}).stdout
    assert "drop_nothing_ep *" in table


def test_plugin_kinds_run_in_show_and_perturb(tmp_path, parser, user_plugin):
    result = invoke(
        "show",
        "The heart is normal. No effusion.",
        "--plugin",
        user_plugin,
        "-k",
        "first_word_last",
        env=WIDE,
    )
    assert "Heart is normal no. Effusion the." in result.stdout
    (tmp_path / "r.txt").write_text("The heart is normal. No effusion.\n")
    result = invoke(
        "perturb", str(tmp_path / "r.txt"), "-o", "-", "--plugin", user_plugin, "-k", "first_word_last", "-q"
    )
    assert result.exit_code == 0, result.output
    (negative,) = json.loads(result.stdout)["perturbations"]
    assert negative == {
        "kind": "first_word_last",
        "text": "Heart is normal no. Effusion the.",
        "applicable": True,
        "draw": 0,
    }


def test_a_broken_plugin_is_a_one_line_usage_error(tmp_path, monkeypatch, registry_snapshot):
    (tmp_path / "rp_broken_plugin.py").write_text("raise RuntimeError('lexicon missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke("list", "--plugin", "rp_broken_plugin")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "radperturb list: error: cannot load perturbation plugins: RuntimeError: lexicon missing"
    ]


@pytest.mark.parametrize("command", ["perturb", "show", "list"])
def test_every_command_has_help_with_examples(command):
    result = invoke(command, "--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Examples" in result.stdout and f"radperturb {command}" in result.stdout


def test_version_and_shell_completion_are_offered():
    assert invoke("--version").stdout.strip() == f"radperturb {perturb.__version__}"
    assert "--install-completion" in invoke("--help", env={"COLUMNS": "120"}).stdout

"""The clinical kinds wherever a kind goes: one finding vocabulary with the phantom renderer, the
command line (`perturb`, `show`, `list`) and the training collator."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.app import app
from perturb import CLINICAL_KINDS
from perturb.clinical import FINDING_NAMES, FINDINGS
from perturb.clinical.vocabulary import SEVERITY

REPORT = "Small left pleural effusion. No pneumothorax. Mild cardiomegaly. Calcified granuloma in the right upper lobe."


def invoke(*args: str, input: str | None = None):
    return CliRunner(env={"COLUMNS": "300"}).invoke(app, list(args), input=input)


def test_the_renderer_draws_exactly_the_findings_of_the_vocabulary():
    from pretrain.phantoms.findings import DRAWABLE_FINDINGS
    from pretrain.phantoms.findings.vocabulary import DIRECT
    from pretrain.data.tags import SEVERITY as TAG_SEVERITY

    assert set(DRAWABLE_FINDINGS) == FINDING_NAMES == set(FINDINGS) | {"normal"}
    assert set(DIRECT.values()) <= FINDING_NAMES
    for word, level in TAG_SEVERITY.items():  # the text edits and the tags share one severity scale
        assert SEVERITY[word][1] == level


@pytest.mark.openi
def test_every_drawable_open_i_tag_names_a_finding_of_the_vocabulary(openi_reports):
    from pretrain.phantoms.findings import classify
    from pretrain.data.tags import parse_tag

    named = {classify(parse_tag(tag)) for r in openi_reports for tag in r.mesh} - {None}
    assert named <= FINDING_NAMES and len(named) > 15


def test_radperturb_perturb_takes_the_clinical_kinds_by_name_and_as_a_set(tmp_path, parser):
    source = tmp_path / "r.jsonl"
    source.write_text(json.dumps({"id": "case-1", "text": REPORT}) + "\n")
    for kinds in ("swap_laterality,flip_negation,swap_severity,swap_location", "clinical"):
        result = invoke("perturb", str(source), "-o", str(tmp_path / "o.jsonl"), "--kinds", kinds, "-q")
        assert result.exit_code == 0, result.output
        row = json.loads((tmp_path / "o.jsonl").read_text())
        made = {p["kind"]: p for p in row["perturbations"]}
        assert list(made) == list(CLINICAL_KINDS) and all(p["applicable"] for p in made.values())
        assert "right pleural effusion" in made["swap_laterality"]["text"] or "left upper lobe" in made[
            "swap_laterality"]["text"]
        assert "right lower lobe" in made["swap_location"]["text"]


def test_show_and_list_know_the_clinical_kinds(parser):
    shown = invoke("show", REPORT, "-k", "clinical")
    assert shown.exit_code == 0, shown.output
    assert all(kind in shown.stdout for kind in CLINICAL_KINDS)
    rows = {r["name"]: r for r in json.loads(invoke("list", "--json").stdout)}
    for kind in CLINICAL_KINDS:
        assert rows[kind]["builtin"] and not rows[kind]["word_preserving"]
        assert rows[kind]["needs"] == ["deps", "pos", "sentences"]


def test_the_collator_draws_clinical_negatives(parser):
    torch = pytest.importorskip("torch")
    from perturb.cache import ParseCache, text_digest
    from pretrain.model.encoders import load_tokenizer
    from pretrain.train.collator import PerturbationCollator

    cache = ParseCache({"r0": (text_digest(REPORT), parser.parse(REPORT))})
    collate = PerturbationCollator(load_tokenizer("minilm"), cache.get, k_negatives=4, kinds="clinical")
    batch = collate([{"id": "r0", "image": torch.zeros(3, 8, 8), "text": REPORT, "tags": []}])
    assert sorted(batch["kinds"][0]) == sorted(CLINICAL_KINDS) and batch["neg_valid"].all()

"""The text half of the counterfactual pairs: real reports edited by the clinical kinds on the
engine's parse, the way their tags were edited, and only where the tags decide the edit."""

from __future__ import annotations

from collections import Counter

import pytest

from perturb.rendering import render_tokens
from pretrain.data.manifest import ManifestRow
from pretrain.data.pairs import read_pairs
from pretrain.data.splits import assign_split
from pretrain.evaluation.blind_lm import tokenize
from pretrain.phantoms.counterfactual import Edit, tag_edits
from pretrain.phantoms.counterfactual_text import (
    clinical_text_edit, edited_text, tag_guided_edit, write_counterfactual_pairs,
)

#: Open-I test reports the fluency test edits (every edit their tags allow).
TEST_REPORTS = 120


def _edit(family, finding, before, after):
    return Edit(family, finding, before, after, (), 0, None, None)


@pytest.fixture(scope="module")
def test_split(openi_reports, parser):
    """(row, parse) of Open-I test reports that carry at least one tag."""
    rows = [ManifestRow(r.id, "", r.findings, r.impression, r.mesh, "test") for r in openi_reports
            if r.text and r.mesh != ("normal",) and assign_split(r.id) == "test"][:TEST_REPORTS]
    return list(zip(rows, parser.parse_many([r.text for r in rows])))


@pytest.fixture(scope="module")
def training_words(openi_reports) -> set[str]:
    return {w.lower() for r in openi_reports if assign_split(r.id) == "train" for w in tokenize(r.text)}


def test_edited_reports_keep_every_token_outside_the_edit_and_use_only_training_word_forms(
        test_split, training_words):
    made = Counter()
    for row, report in test_split:
        original = render_tokens(report, report.layout.identity)
        for edit in tag_edits(row.tags, row.id):
            result = tag_guided_edit(report, edit)
            if result is None:
                continue
            made[edit.family] += 1
            changed = {r.position for r in result.replacements}
            assert changed and len(result.tokens) == len(original)
            assert all(new == old for slot, (new, old) in enumerate(zip(result.tokens, original))
                       if slot not in changed), (row.id, edit)
            new_words = {w.lower() for r in result.replacements for w in tokenize(r.new)}
            assert new_words <= training_words, (row.id, edit, new_words - training_words)
    # Every family the text can carry is made from real reports.
    assert made["presence"] > 0 and made["laterality"] > 0 and made["severity"] > 0 \
        and made["location"] > 0, made


def test_the_edit_is_the_one_the_image_shows(parser):
    report = parser.parse("Small left pleural effusion. Mild cardiomegaly. No pneumothorax.")
    assert edited_text(report, _edit("laterality", "pleural effusion", "left", "right")) == \
        "Small right pleural effusion. Mild cardiomegaly. No pneumothorax."
    assert "large" in edited_text(report, _edit("severity", "pleural effusion", "small", "large")).lower()
    removed = edited_text(report, _edit("presence", "cardiomegaly", "present", "absent"))
    added = edited_text(report, _edit("presence", "pneumothorax", "absent", "present"))
    assert removed is not None and "No pneumothorax" in removed and removed != report.text
    assert added is not None and "No pneumothorax" not in added


@pytest.mark.parametrize("edit", [
    _edit("laterality", "pleural effusion", "right", "left"),     # the text says left, the tag right
    _edit("severity", "pleural effusion", "large", "small"),      # the text says small
    _edit("presence", "nodule", "present", "absent"),             # the text never names it
    _edit("presence", "pneumothorax", "present", "absent"),       # the text says there is none
    _edit("presence", "aortic calcification", "absent", "present"),  # no sentence to assert
])
def test_an_edit_the_text_does_not_decide_as_the_tags_do_is_not_made(parser, edit):
    report = parser.parse("Small left pleural effusion. No pneumothorax.")
    assert tag_guided_edit(report, edit) is None


def test_a_device_edit_is_a_presence_edit_of_the_device(parser):
    report = parser.parse("There is a left chest tube. No pneumothorax.")
    assert edited_text(report, _edit("device", "tube", "present", "absent")) == \
        edited_text(report, _edit("presence", "tube", "present", "absent")) == \
        "There is no left chest tube. No pneumothorax."


def test_pairs_built_from_sample_reports_round_trip_and_count_what_the_text_declines(tmp_path, parser):
    import json

    from conftest import SAMPLE_REPORTS

    samples = [json.loads(line) for line in SAMPLE_REPORTS.read_text().splitlines() if line.strip()]
    rows = [ManifestRow(s["id"], "", s["findings"], s["impression"], tuple(s["mesh"]), "test")
            for s in samples]
    summary = write_counterfactual_pairs(rows, tmp_path, size=32)
    pairs, rejects = read_pairs(tmp_path / "pairs.jsonl")
    assert rejects == [] and len(pairs) == sum(summary.pairs.values()) > 0
    assert sum(summary.declined.values()) > 0 and not summary.failed
    by_id = {r.id: r for r in rows}
    parse = {r.id: parser.parse(r.text) for r in rows}
    text_edit = clinical_text_edit(lambda key, text: parse[key])
    for pair in pairs:
        row = by_id[pair.report_id]
        assert pair.text_a == row.text and pair.tags_a == row.tags
        edit = next(e for e in tag_edits(row.tags, row.id) if e.to_dict() == pair.edit
                    and e.family == pair.family and e.tags == pair.tags_b)
        assert text_edit(row, edit) == pair.text_b


def test_a_cached_parse_without_dependency_arcs_is_parsed_again(tmp_path, parser, monkeypatch):
    from dataclasses import replace

    import pretrain.evaluation.semantic as semantic
    from pretrain.phantoms.counterfactual_text import dependency_parses

    text = "Small left pleural effusion. No pneumothorax."
    full = parser.parse(text)
    bare = replace(full, heads=(), deps=())          # as a cache made for the paper's kinds holds it
    monkeypatch.setattr(semantic, "parse_reports", lambda records, cache: ([bare], 1))
    (again,) = dependency_parses([("r1", text)], tmp_path / "cache.jsonl.gz")
    assert again.deps == full.deps and again.heads == full.heads
    assert tag_guided_edit(bare, _edit("presence", "pneumothorax", "absent", "present")) is None
    assert tag_guided_edit(again, _edit("presence", "pneumothorax", "absent", "present")) is not None

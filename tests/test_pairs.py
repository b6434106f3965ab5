"""The pairs file (round trip, counted rejects with line numbers) and the counterfactual builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pretrain.phantoms.counterfactual_set import build_counterfactual_set
from pretrain.data.images import load_image
from pretrain.data.manifest import ManifestRow
from pretrain.data.pairs import Pair, PairsFileError, image_path, read_pairs, write_pairs
from pretrain.phantoms.phantom import render_phantom, seed_for


def _images(folder, *names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"not read")


def test_pairs_round_trip_through_the_file(tmp_path):
    _images(tmp_path, "a.png", "b.png", "c.png")
    pairs = [Pair("p1", "a.png", "Right effusion.", "b.png", "Left effusion.", "laterality",
                  {"finding": "pleural effusion", "from": "right", "to": "left"},
                  ("Pleural Effusion/right",), ("Pleural Effusion/left",), "CXR1"),
             Pair("p2", "a.png", "No nodule. Ünïcode.", "c.png", "A nodule.", "presence")]
    assert write_pairs(tmp_path / "pairs.jsonl", pairs) == 2
    read, rejects = read_pairs(tmp_path / "pairs.jsonl")
    assert read == pairs and rejects == []
    assert read[1].group == "p2" and read[0].group == "CXR1"
    assert image_path(tmp_path / "pairs.jsonl", "a.png") == tmp_path / "a.png"


def test_bad_rows_are_rejected_with_their_line_numbers_and_good_ones_kept(tmp_path):
    _images(tmp_path, "a.png", "b.png")
    good = {"image_a": "a.png", "text_a": "x", "image_b": "b.png", "text_b": "y",
            "family": "presence"}
    lines = [json.dumps({**good, "id": "ok"}),
             "{not json",
             json.dumps([1, 2]),
             json.dumps({k: v for k, v in good.items() if k != "text_b"}),
             json.dumps({**good, "text_a": "  "}),
             json.dumps({**good, "id": "ok"}),
             json.dumps({**good, "text_b": "x"}),
             json.dumps({**good, "image_b": "a.png"}),
             json.dumps({**good, "image_b": "missing.png"}),
             json.dumps({**good, "edit": "moved"}),
             "",
             json.dumps(good)]
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken\n")
    pairs, rejects = read_pairs(path)
    assert [p.id for p in pairs] == ["ok", "line 12"]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "not valid JSON (Expecting property name enclosed in double quotes)"),
        (3, "not a JSON object"),
        (4, "missing field 'text_b'"),
        (5, "'text_a' is not a non-empty string"),
        (6, "duplicate id 'ok'"),
        (7, "text_a and text_b are the same text"),
        (8, "image_a and image_b are the same file"),
        (9, "image_b 'missing.png' not found"),
        (10, "'edit' is not a JSON object"),
        (13, "not valid UTF-8"),
    ]
    assert len(read_pairs(path, check_images=False)[0]) == 3     # the missing image passes


def test_a_missing_pairs_file_is_a_one_line_error(tmp_path):
    with pytest.raises(PairsFileError, match="no such file"):
        read_pairs(tmp_path / "none.jsonl")


def _mark(row: ManifestRow, edit) -> str | None:
    """A test text edit: declines additions (but for one report), says what changed."""
    if edit.index is None and row.id != "CXR 2/weird":
        return None
    return f"{row.text} [{edit.family}: {edit.finding} {edit.before} -> {edit.after}]"


def test_the_builder_writes_pairs_whose_images_match_the_phantom_and_the_edit(tmp_path):
    rows = [ManifestRow("CXR1", "x.png", "Small right effusion.", "", (
                "Pleural Effusion/right/small", "Opacity/lung/upper lobe/left"), "test"),
            ManifestRow("CXR 2/weird", "y.png", "Normal.", "", ("normal",), "test"),
            ManifestRow("CXR3", "z.png", "Retrocardiac opacity.", "",
                        ("Airspace Disease/lung/left/retrocardiac",), "test")]
    summary = build_counterfactual_set(rows, tmp_path, _mark, size=32, seed=3)
    pairs, rejects = read_pairs(tmp_path / "pairs.jsonl")
    assert rejects == [] and len(pairs) == sum(summary.pairs.values()) > 0
    assert summary.reports == 3 and not summary.failed
    assert {p.family for p in pairs} == {"laterality", "presence", "severity", "location", "device"}
    assert summary.declined["presence"] > 0 and summary.declined["device"] > 0
    added = [p for p in pairs if p.report_id == "CXR 2/weird"]
    assert [p.family for p in added] == ["presence"] * 2 + ["device"] * 2   # max_additions=2
    assert len({p.image_b for p in pairs}) == len(pairs)
    assert summary.unchanged_image["presence"] >= 1        # the opacity behind the heart
    first = pairs[0]
    expected = render_phantom(rows[0].tags, seed_for("CXR1", 3), 32).image
    assert np.array_equal(np.round(load_image(image_path(tmp_path / "pairs.jsonl",
                                                         first.image_a)) * 255), expected)
    for pair in (p for p in pairs if p.report_id == "CXR1"):
        assert pair.tags_a == rows[0].tags
        assert pair.text_b.endswith(f"{pair.edit['from']} -> {pair.edit['to']}]")
        assert len(pair.tags_b) == len(pair.tags_a) - (pair.edit["tag_to"] is None)


def test_the_builder_counts_a_text_edit_that_changes_nothing(tmp_path):
    rows = [ManifestRow("CXR1", "x.png", "Right effusion.", "", ("Pleural Effusion/right",), "test")]
    summary = build_counterfactual_set(rows, tmp_path, lambda row, edit: row.text, size=32)
    assert sum(summary.pairs.values()) == 0 and summary.unchanged_text["presence"] > 0
    assert read_pairs(tmp_path / "pairs.jsonl") == ([], [])


def test_a_failing_or_repeated_report_is_counted_and_the_others_are_written(tmp_path):
    rows = [ManifestRow("bad", "x.png", "Right effusion.", "", ("Pleural Effusion/right",), "test"),
            ManifestRow("good", "y.png", "Right effusion.", "", ("Pleural Effusion/right",), "test"),
            ManifestRow("good", "z.png", "Left effusion.", "", ("Pleural Effusion/left",), "test")]

    def text_edit(row, edit):
        if row.id == "bad":
            raise ValueError("no such mention\nsecond line")
        return _mark(row, edit)

    summary = build_counterfactual_set(rows, tmp_path, text_edit, size=32)
    assert summary.failed == [("bad", "ValueError: no such mention"),
                              ("good", "duplicate report id")]
    pairs, _ = read_pairs(tmp_path / "pairs.jsonl")
    assert {p.report_id for p in pairs} == {"good"}
    assert sorted(f.name for f in (tmp_path / "counterfactuals").iterdir()) == sorted(
        p.image_b.split("/")[-1] for p in pairs)

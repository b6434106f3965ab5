"""Manifest read/write (JSONL and CSV), line-numbered errors, splits and the reports reader."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pretrain.data.manifest import ManifestError, ManifestRow, read_manifest, write_manifest
from pretrain.data.reports import ReportsFileError, read_reports
from pretrain.data.splits import TEST_FRACTION, assign_split

ROWS = [
    ManifestRow("CXR1", "images/CXR1.png", "Heart normal.", "No acute disease.", ("normal",),
                "train"),
    ManifestRow("CXR2", "images/CXR2.png", "", "Small left effusion, larger than before.",
                ("Pleural Effusion/left/small", "Catheters, Indwelling/right"), "test"),
    ManifestRow("a \"quoted\", id", "x/y.png", "Line one;\nline two.", "", (), "valid"),
]


@pytest.mark.parametrize("name", ["m.jsonl", "m.csv", "m.jsonl.gz", "m.csv.gz"])
def test_manifest_round_trip_keeps_every_field(tmp_path, name):
    path = tmp_path / name
    assert write_manifest(path, ROWS) == 3
    assert read_manifest(path) == ROWS
    assert [p.name for p in tmp_path.iterdir()] == [name]       # no temp file left behind


def test_manifest_errors_name_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    good = json.dumps(ROWS[0].to_dict())
    path.write_text(good + "\n\n" + good.replace('"train"', '"holdout"') + "\n")
    with pytest.raises(ManifestError, match=r"m.jsonl:3: split 'holdout'"):
        read_manifest(path)
    path.write_text(good + "\n{not json\n")
    with pytest.raises(ManifestError, match=r"m.jsonl:2: not valid JSON"):
        read_manifest(path)
    path.write_text(json.dumps({"id": "x", "image": "y.png"}) + "\n")
    with pytest.raises(ManifestError, match=r":1: missing field\(s\) findings, impression, tags"):
        read_manifest(path)


def test_csv_manifest_without_the_fields_is_refused(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,path\n1,a.png\n")
    with pytest.raises(ManifestError, match="CSV header lacks image, findings"):
        read_manifest(path)
    with pytest.raises(ManifestError, match="no such file"):
        read_manifest(tmp_path / "absent.jsonl")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_split_of_an_id_never_changes_and_is_one_of_three(report_id):
    assert assign_split(report_id) == assign_split(report_id) in ("train", "valid", "test")


def test_default_split_holds_out_about_the_papers_test_size():
    ids = [f"CXR{i}" for i in range(1, 3956)]
    splits = [assign_split(i) for i in ids]
    assert abs(splits.count("test") - 469) < 45      # binomial sd ≈ 20
    assert 100 < splits.count("valid") < 300
    assert TEST_FRACTION == pytest.approx(469 / 3955)


def test_split_fractions_are_checked():
    assert assign_split("x", test_fraction=1.0, valid_fraction=0.0) == "test"
    assert assign_split("x", test_fraction=0.0, valid_fraction=0.0) == "train"
    with pytest.raises(ValueError):
        assign_split("x", test_fraction=0.7, valid_fraction=0.5)


def test_reports_reader_counts_bad_rows_with_their_line(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [
        {"id": "a", "findings": "Clear lungs.", "impression": "", "mesh": ["normal"]},
        "{broken",
        {"id": "b", "findings": "", "impression": "  ", "mesh": []},
        {"id": "a", "findings": "Again.", "impression": "", "mesh": []},
        {"id": "c", "findings": "Effusion.", "impression": "", "mesh": "Pleural Effusion"},
        [1, 2],
        {"findings": "No id."},
        {"id": 7, "findings": "", "impression": "Numeric id.", "mesh": ["normal", " "]},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n")
    reports, rejects = read_reports(path)
    assert [r.id for r in reports] == ["a", "7"]
    assert reports[1].mesh == ("normal",) and reports[1].text == "Numeric id."
    assert [(r.line, r.reason.split(" (")[0]) for r in rejects] == [
        (2, "not valid JSON"), (3, "report 'b' has no text"), (4, "duplicate id 'a'"),
        (5, "'mesh' is not a list of strings"), (6, "not a JSON object"), (7, "no 'id'")]
    with pytest.raises(ReportsFileError, match="no such file"):
        read_reports(tmp_path / "absent.jsonl")


def test_sample_reports_are_well_formed():
    from pathlib import Path

    reports, rejects = read_reports(Path(__file__).parent.parent / "data_samples" / "reports.jsonl")
    assert not rejects and len(reports) >= 48
    assert sum(r.mesh == ("normal",) for r in reports) >= 5
    tags = [t for r in reports for t in r.mesh]
    assert any("/left" in t for t in tags) and any("/right" in t for t in tags)
    assert any("/bilateral" in t for t in tags)
    texts = " ".join(r.text.lower() for r in reports)
    for word in ("no pleural effusion", "mild", "moderate", "severe", "small", "large"):
        assert word in texts

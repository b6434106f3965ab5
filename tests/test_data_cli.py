"""`radperturb data openi | phantoms | manifest` through typer's CliRunner."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cli.app import app
from pretrain.data.manifest import read_manifest

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples" / "reports.jsonl"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _reports(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_phantoms_for_the_samples_then_resume(tmp_path):
    out = tmp_path / "phantoms"
    result = run("data", "phantoms", "--reports", str(SAMPLES), "--out", str(out), "--size", "48")
    assert result.exit_code == 0, result.output
    rows = read_manifest(out / "manifest.jsonl")
    sample_count = sum(1 for line in SAMPLES.read_text().splitlines() if line.strip())
    assert len(rows) == sample_count and len(list((out / "images").glob("*.png"))) == sample_count
    assert {r.split for r in rows} <= {"train", "valid", "test"}
    assert rows[1].tags == ("Pleural Effusion/left/small", "Cardiomegaly/mild")
    assert f"{sample_count} rendered" in result.stderr.replace("\n", " ")
    first = (out / rows[0].image).read_bytes()

    (out / rows[0].image).write_bytes(first[:50])            # an interrupted write
    (out / rows[1].image).unlink()
    again = run("data", "phantoms", "-r", str(SAMPLES), "--out", str(out), "--size", "48")
    assert again.exit_code == 0, again.output
    text = again.stderr.replace("\n", " ")
    assert "2 rendered" in text and f"{sample_count - 2} kept" in text
    assert (out / rows[0].image).read_bytes() == first      # same seed, same pixels


def test_bad_rows_are_rejected_with_line_numbers_and_unknown_tags_counted(tmp_path):
    reports = _reports(tmp_path / "r.jsonl", [
        {"id": "x1", "findings": "Left effusion.", "impression": "",
         "mesh": ["Pleural Effusion/left", "No Indexing"]},
        "{oops",
        {"id": "x2", "findings": "", "impression": "", "mesh": ["normal"]},
        {"id": "x/3", "findings": "", "impression": "Kyphosis.",
         "mesh": ["Kyphosis/thoracic vertebrae", "No Indexing"]},
    ])
    result = run("data", "phantoms", "-r", str(reports), "--out", str(tmp_path / "o"),
                 "--manifest", str(tmp_path / "pairs.csv"), "--size", "32")
    assert result.exit_code == 0, result.output
    rows = read_manifest(tmp_path / "pairs.csv")
    assert [r.id for r in rows] == ["x1", "x/3"]
    assert rows[1].image.startswith("o/images/x_3-") and (tmp_path / rows[1].image).is_file()
    err = result.stderr
    assert "2 rejected rows" in err and "line 2: not valid JSON" in err
    assert "line 3: report 'x2' has no text" in err
    assert "No Indexing" in err and "Kyphosis/thoracic vertebrae" in err


def test_phantoms_with_two_workers(tmp_path):
    reports = _reports(tmp_path / "r.jsonl", [
        {"id": f"w{i}", "findings": "Text.", "impression": "", "mesh": ["Cardiomegaly"]}
        for i in range(6)])
    result = run("data", "phantoms", "-r", str(reports), "--out", str(tmp_path / "o"),
                 "--size", "32", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert len(read_manifest(tmp_path / "o" / "manifest.jsonl")) == 6


def test_gallery_shows_every_drawable_finding(tmp_path):
    from pretrain.phantoms.gallery import gallery_tags

    result = run("data", "phantoms", "--gallery", str(tmp_path / "g.png"))
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "g.png") as image:
        width, height = image.size
    assert width == 6 * 256 and height >= 256 * (len(gallery_tags()) // 6)


@pytest.mark.parametrize("args, message", [
    ([], "give --reports and --out"),
    (["--reports", "absent.jsonl", "--out", "o"], "absent.jsonl: no such file"),
    (["--out", "o"], "--reports and --out go together"),
    (["--gallery", "g.png", "--test-fraction", "0.9", "--valid-fraction", "0.2"],
     "add up to more than 1"),
])
def test_phantoms_usage_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = run("data", "phantoms", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("radperturb data phantoms: error:") and message in line


def _openi_tgz(path: Path) -> Path:
    xml = ('<eCitation><uId id="CXR{n}"/><AbstractText Label="FINDINGS">{f}</AbstractText>'
           '<AbstractText Label="IMPRESSION">No acute disease.</AbstractText>'
           '<MeSH><major>normal</major></MeSH></eCitation>')
    folder = path.parent / "ecgen-radiology"
    folder.mkdir()
    for n, findings in ((1, "Clear lungs."), (2, "Heart normal.")):
        (folder / f"{n}.xml").write_text(xml.format(n=n, f=findings))
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname="ecgen-radiology")
    return path


def test_openi_writes_the_reports_as_jsonl(tmp_path):
    source = _openi_tgz(tmp_path / "NLMCXR_reports.tgz")
    result = run("data", "openi", "-o", str(tmp_path / "openi.jsonl"), "--source", str(source))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "openi.jsonl").read_text().splitlines()]
    assert rows == [{"id": "CXR1", "findings": "Clear lungs.", "impression": "No acute disease.",
                     "mesh": ["normal"]},
                    {"id": "CXR2", "findings": "Heart normal.",
                     "impression": "No acute disease.", "mesh": ["normal"]}]
    assert "wrote 2 reports" in result.stderr
    missing = run("data", "openi", "-o", str(tmp_path / "x.jsonl"), "--source", "nowhere.tgz")
    assert missing.exit_code == 2 and "nowhere.tgz: no such file" in missing.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_manifest_from_a_layout_and_its_errors(tmp_path):
    from test_adapters import _chexpert_fixture

    root = tmp_path / "CheXpert-v1.0-small"
    plus = _chexpert_fixture(root)
    out = tmp_path / "m.jsonl"
    result = run("data", "manifest", "--from", "chexpert", "--root", str(root),
                 "--reports", str(plus), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_manifest(out)) == 2
    assert "skipped 1 no image, 1 no report text" in result.stderr.replace("\n", " ")
    absent = run("data", "manifest", "--from", "mimic", "--root", str(tmp_path / "no"), "-o",
                 str(out))
    assert absent.exit_code == 2 and "no such folder" in absent.stderr
    wrong = run("data", "manifest", "--from", "mimic", "--root", str(root), "-o", str(out))
    assert wrong.exit_code == 1 and "no metadata CSV" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1

"""Adapters on tiny fixtures that mimic the real layouts of Open-I, MIMIC-CXR-JPG and CheXpert."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pretrain.data.adapters import (AdapterError, chexpert_manifest, mimic_manifest,
                                    mimic_sections, openi_manifest)
from pretrain.data.manifest import image_path


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(path)
    return path


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="FINDINGS">{findings}</AbstractText>
<AbstractText Label="IMPRESSION">{impression}</AbstractText>
</Abstract></Article></MedlineCitation>
<MeSH>{mesh}</MeSH>
{images}
</eCitation>"""


def _openi_report(folder: Path, n: int, findings: str, impression: str, mesh: list[str],
                  images: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{n}.xml").write_text(OPENI_XML.format(
        n=n, findings=findings, impression=impression,
        mesh="".join(f"<major>{m}</major>" for m in mesh),
        images="".join(f'<parentImage id="{i}"><figureId>F1</figureId></parentImage>'
                       for i in images)))


def test_openi_pairs_each_report_with_its_first_available_image(tmp_path):
    xml, png = tmp_path / "ecgen-radiology", tmp_path / "NLMCXR_png"
    _openi_report(xml, 1, "Heart normal.", "No acute disease.", ["normal"],
                  ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"])
    _openi_report(xml, 2, "Small left effusion.", "Effusion.", ["Pleural Effusion/left/small"],
                  ["CXR2_IM-0652-1001", "CXR2_IM-0652-2001"])
    _openi_report(xml, 3, "", "", ["normal"], ["CXR3_IM-1384-1001"])
    _openi_report(xml, 4, "Clear.", "", ["normal"], ["CXR4_IM-2050-1001"])
    _image(png / "CXR1_1_IM-0001-3001.png")
    _image(png / "CXR1_1_IM-0001-4001.png")
    _image(png / "CXR2_IM-0652-2001.png")          # the first view is missing: take the next
    _image(png / "CXR3_IM-1384-1001.png")
    out = tmp_path / "out"
    result = openi_manifest(xml, png, out)
    assert [(r.id, r.image) for r in result.rows] == [
        ("CXR1", "../NLMCXR_png/CXR1_1_IM-0001-3001.png"),
        ("CXR2", "../NLMCXR_png/CXR2_IM-0652-2001.png")]
    assert result.rows[1].tags == ("Pleural Effusion/left/small",)
    assert result.rows[1].findings == "Small left effusion."
    assert dict(result.skipped) == {"no report text": 1, "no image": 1}
    assert image_path(out / "m.jsonl", result.rows[0]).resolve().is_file()


def test_openi_needs_an_image_folder(tmp_path):
    with pytest.raises(AdapterError, match="no such image folder"):
        openi_manifest(tmp_path, tmp_path / "absent", tmp_path)


MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  Cough.

 FINDINGS:
 There is a small right pleural effusion.  No pneumothorax.
 Heart size is normal.

 IMPRESSION:
 Small right pleural effusion.
"""


def test_mimic_sections_are_found_in_free_text():
    assert mimic_sections(MIMIC_REPORT) == (
        "There is a small right pleural effusion. No pneumothorax. Heart size is normal.",
        "Small right pleural effusion.")
    assert mimic_sections("IMPRESSION: No acute process.") == ("", "No acute process.")


def _mimic_fixture(root: Path) -> None:
    studies = {  # study: (subject, [(dicom, view)], report text or None, make images)
        "50000001": ("10000032", [("d-lat", "LATERAL"), ("d-ap", "AP"), ("d-pa", "PA")],
                     MIMIC_REPORT, True),
        "50000002": ("10000032", [("e-lat", "LATERAL")], MIMIC_REPORT, True),
        "50000003": ("11000011", [("f-ap", "AP")], None, True),
        "50000004": ("11000011", [("g-ap", "AP")], MIMIC_REPORT, False),
        "50000005": ("12000012", [("h-ap", "AP")], "WET READ: nothing useful", True),
        "50000006": ("12000012", [("i-ap", "AP")], "IMPRESSION: Clear lungs.", True),
    }
    meta, split = [], []
    for study, (subject, views, report, make) in studies.items():
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        for dicom, view in views:
            meta.append([dicom, subject, study, "CHEST (PA AND LAT)", view])
            split.append([dicom, study, subject, "test" if study == "50000006" else "validate"])
            if make:
                _image(folder / f"s{study}" / f"{dicom}.jpg")
        if report is not None:
            (folder / f"s{study}.txt").write_text(report)
    _csv(root / "mimic-cxr-2.0.0-metadata.csv.gz",
         ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
          "ViewPosition"], meta)
    _csv(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id", "subject_id", "split"],
         split)
    _csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz",
         ["subject_id", "study_id", "Pleural Effusion", "No Finding", "Cardiomegaly"],
         [["10000032", "50000001", "1.0", "", "-1.0"], ["12000012", "50000006", "", "1.0", "0"]])


def test_mimic_takes_one_frontal_image_per_study_preferring_pa(tmp_path):
    root = tmp_path / "mimic-cxr-jpg" / "2.0.0"
    _mimic_fixture(root)
    result = mimic_manifest(root, tmp_path)
    assert [(r.id, r.image, r.split, r.tags) for r in result.rows] == [
        ("s50000001", "mimic-cxr-jpg/2.0.0/files/p10/p10000032/s50000001/d-pa.jpg", "valid",
         ("Pleural Effusion",)),
        ("s50000006", "mimic-cxr-jpg/2.0.0/files/p12/p12000012/s50000006/i-ap.jpg", "test",
         ("normal",))]
    assert result.rows[0].impression == "Small right pleural effusion."
    assert dict(result.skipped) == {"no frontal image": 1, "no report": 1, "no image": 1,
                                    "no findings or impression section": 1}


def test_mimic_without_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(AdapterError, match="no metadata CSV"):
        mimic_manifest(tmp_path, tmp_path)


def _chexpert_fixture(root: Path) -> Path:
    labels = ["No Finding", "Cardiomegaly", "Pleural Effusion"]
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *labels]
    prefix = "CheXpert-v1.0-small/"
    _csv(root / "train.csv", header, [
        [prefix + "train/patient00001/study1/view1_frontal.jpg", "F", "68", "Frontal", "AP",
         "", "1.0", "-1.0"],
        [prefix + "train/patient00001/study1/view2_lateral.jpg", "F", "68", "Lateral", "",
         "", "1.0", "-1.0"],
        [prefix + "train/patient00002/study1/view1_frontal.jpg", "M", "50", "Frontal", "PA",
         "1.0", "", ""],
        [prefix + "train/patient00003/study2/view1_frontal.jpg", "M", "41", "Frontal", "PA",
         "", "0.0", "1.0"],
    ])
    _csv(root / "valid.csv", header, [
        [prefix + "valid/patient64541/study1/view1_frontal.jpg", "M", "73", "Frontal", "AP",
         "", "", "1.0"]])
    for path in ("train/patient00001/study1/view1_frontal.jpg",
                 "train/patient00001/study1/view2_lateral.jpg",
                 "train/patient00003/study2/view1_frontal.jpg",
                 "valid/patient64541/study1/view1_frontal.jpg"):
        _image(root / path)
    plus = root.parent / "df_chexpert_plus.csv"
    _csv(plus, ["path_to_image", "section_findings", "section_impression"], [
        ["train/patient00001/study1/view1_frontal.jpg", "Enlarged heart.", "Cardiomegaly."],
        ["valid/patient64541/study1/view1_frontal.jpg", "", "Right effusion."]])
    return plus


def test_chexpert_uses_frontal_views_labels_and_plus_reports(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    plus = _chexpert_fixture(root)
    result = chexpert_manifest(root, root, reports=plus)
    assert [(r.id, r.image, r.tags, r.text) for r in result.rows] == [
        ("train/patient00001/study1", "train/patient00001/study1/view1_frontal.jpg",
         ("Cardiomegaly",), "Enlarged heart.\n\nCardiomegaly."),
        ("valid/patient64541/study1", "valid/patient64541/study1/view1_frontal.jpg",
         ("Pleural Effusion",), "Right effusion.")]
    assert result.rows[0].split in ("train", "valid") and result.rows[1].split == "test"
    assert dict(result.skipped) == {"no image": 1, "no report text": 1}


def test_chexpert_can_keep_images_without_text(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    _chexpert_fixture(root)
    result = chexpert_manifest(root, tmp_path, keep_without_text=True)
    assert len(result.rows) == 3 and dict(result.skipped) == {"no image": 1}
    assert result.rows[0].image == "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
    with pytest.raises(AdapterError, match="no train.csv or valid.csv"):
        chexpert_manifest(tmp_path / "empty", tmp_path)

"""Turn the standard layouts of public chest X-ray datasets into manifests.

- Open-I with its images downloaded by the user: the ecgen-radiology XML reports (folder or
  `NLMCXR_reports.tgz`) and a folder of PNGs named after each report's `parentImage` ids.
- MIMIC-CXR-JPG: `files/pXX/pSUBJECT/sSTUDY/DICOM.jpg`, the metadata and split CSVs (`.csv` or
  `.csv.gz`), the free-text reports (`files/pXX/pSUBJECT/sSTUDY.txt` from mimic-cxr-reports)
  and, if present, the CheXpert label CSV for tags. One report goes with one frontal image.
- CheXpert: `train.csv` / `valid.csv` with a `Path` column and label columns; report text from a
  CheXpert Plus CSV where present.

Nothing is dropped silently: rows without an image or text are counted by reason in
`AdapterResult.skipped`.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from perturb.atomic import open_text
from perturb.errors import DataError
from pretrain.data.manifest import ManifestRow
from pretrain.data.splits import TEST_FRACTION, VALID_FRACTION, assign_split

#: CheXpert / MIMIC-CXR label columns, written as tags when positive (1.0).
CHEXPERT_LABELS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
)
FRONTAL_VIEWS = ("PA", "AP")
MIMIC_SPLITS = {"train": "train", "validate": "valid", "valid": "valid", "test": "test"}


class AdapterError(DataError):
    """The layout is not what the adapter expects; one-line message naming what is missing."""


@dataclass
class AdapterResult:
    rows: list[ManifestRow] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)   # reason → count


def _relative(path: Path, manifest_dir: Path) -> str:
    return Path(os.path.relpath(path.resolve(), manifest_dir.resolve())).as_posix()


def _positive_labels(record: dict[str, str]) -> tuple[str, ...]:
    tags = []
    for label in CHEXPERT_LABELS:
        value = (record.get(label) or "").strip()
        try:
            positive = bool(value) and float(value) == 1.0
        except ValueError:
            positive = False
        if positive:
            tags.append("normal" if label == "No Finding" else label)
    return tuple(tags)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with open_text(path) as stream:
            return list(csv.DictReader(stream))
    except FileNotFoundError:
        raise AdapterError(f"{path}: no such file") from None
    except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise AdapterError(f"{path}: not a readable CSV ({err})") from None


def _find(root: Path, names: tuple[str, ...], what: str) -> Path:
    for name in names:
        if (root / name).exists():
            return root / name
    raise AdapterError(f"{root}: no {what} (looked for {', '.join(names)})")


# Open-I ---------------------------------------------------------------------------------------
def openi_manifest(reports: str | os.PathLike[str], images: str | os.PathLike[str],
                   manifest_dir: str | os.PathLike[str], *, test_fraction: float = TEST_FRACTION,
                   valid_fraction: float = VALID_FRACTION) -> AdapterResult:
    """One row per report with text, paired with its first listed image that exists (Open-I
    lists the frontal view first for most studies; reports do not label views)."""
    from pretrain.data.openi import OpenIUnavailable, load_openi

    images = Path(images)
    if not images.is_dir():
        raise AdapterError(f"{images}: no such image folder")
    try:
        reports_list = load_openi(reports)
    except (OpenIUnavailable, DataError) as err:
        raise AdapterError(str(err)) from None
    available = {p.stem: p for p in images.rglob("*") if p.suffix.lower() in (".png", ".jpg",
                                                                                ".jpeg", ".dcm")}
    result = AdapterResult()
    for report in reports_list:
        if not report.text:
            result.skipped["no report text"] += 1
            continue
        found = [available[i] for i in report.images if i in available]
        if not found:
            result.skipped["no image"] += 1
            continue
        result.rows.append(ManifestRow(
            report.id, _relative(found[0], Path(manifest_dir)), report.findings,
            report.impression, report.mesh,
            assign_split(report.id, test_fraction, valid_fraction)))
    return result


# MIMIC-CXR-JPG --------------------------------------------------------------------------------
SECTION = re.compile(r"^\s*([A-Z][A-Z &/]+):", re.MULTILINE)


def mimic_sections(text: str) -> tuple[str, str]:
    """(findings, impression) of a MIMIC-CXR free-text report; '' for an absent section."""
    sections: dict[str, str] = {}
    matches = list(SECTION.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = re.sub(r"\s+", " ", text[match.end():end]).strip()
        sections.setdefault(match.group(1).strip(), body)
    return sections.get("FINDINGS", ""), sections.get("IMPRESSION", "")


def mimic_manifest(root: str | os.PathLike[str], manifest_dir: str | os.PathLike[str],
                   *, reports: str | os.PathLike[str] | None = None) -> AdapterResult:
    """One row per study: its report and its PA (else AP) image; the official split."""
    root = Path(root)
    reports_root = Path(reports) if reports is not None else root
    metadata = _csv_rows(_find(root, ("mimic-cxr-2.0.0-metadata.csv.gz",
                                      "mimic-cxr-2.0.0-metadata.csv"), "metadata CSV"))
    split_rows = _csv_rows(_find(root, ("mimic-cxr-2.0.0-split.csv.gz",
                                        "mimic-cxr-2.0.0-split.csv"), "split CSV"))
    splits = {r["dicom_id"]: MIMIC_SPLITS.get(r.get("split", ""), "") for r in split_rows}
    labels: dict[str, tuple[str, ...]] = {}
    for name in ("mimic-cxr-2.0.0-chexpert.csv.gz", "mimic-cxr-2.0.0-chexpert.csv"):
        if (root / name).exists():
            labels = {r["study_id"]: _positive_labels(r) for r in _csv_rows(root / name)}
            break
    studies: dict[tuple[str, str], list[dict[str, str]]] = {}
    for record in metadata:
        studies.setdefault((record["subject_id"], record["study_id"]), []).append(record)
    result = AdapterResult()
    for (subject, study), records in sorted(studies.items()):
        frontal = sorted((r for r in records if r.get("ViewPosition") in FRONTAL_VIEWS),
                         key=lambda r: (FRONTAL_VIEWS.index(r["ViewPosition"]), r["dicom_id"]))
        if not frontal:
            result.skipped["no frontal image"] += 1
            continue
        folder = Path("files") / f"p{subject[:2]}" / f"p{subject}"
        image = root / folder / f"s{study}" / f"{frontal[0]['dicom_id']}.jpg"
        if not image.is_file():
            result.skipped["no image"] += 1
            continue
        report_file = reports_root / folder / f"s{study}.txt"
        if not report_file.is_file():
            result.skipped["no report"] += 1
            continue
        findings, impression = mimic_sections(report_file.read_text(encoding="utf-8",
                                                                    errors="replace"))
        if not findings and not impression:
            result.skipped["no findings or impression section"] += 1
            continue
        split = splits.get(frontal[0]["dicom_id"], "")
        if not split:
            result.skipped["no split"] += 1
            continue
        result.rows.append(ManifestRow(f"s{study}", _relative(image, Path(manifest_dir)),
                                       findings, impression, labels.get(study, ()), split))
    return result


# CheXpert -------------------------------------------------------------------------------------
def _chexpert_key(path: str) -> str:
    """The part of an image path from `train/` or `valid/` on (CheXpert and CheXpert Plus
    prefix it differently)."""
    match = re.search(r"(?:^|/)((?:train|valid)/.+)$", path.replace("\\", "/"))
    return match.group(1) if match else path


def chexpert_manifest(root: str | os.PathLike[str], manifest_dir: str | os.PathLike[str],
                      *, reports: str | os.PathLike[str] | None = None,
                      keep_without_text: bool = False,
                      valid_fraction: float = VALID_FRACTION) -> AdapterResult:
    """One row per study (its first frontal view). `valid.csv` (radiologist-labelled) becomes
    the test split; `train.csv` is split into train/valid by id hash."""
    root = Path(root)
    texts: dict[str, tuple[str, str]] = {}
    if reports is not None:
        for record in _csv_rows(Path(reports)):
            if "path_to_image" not in record:
                raise AdapterError(f"{reports}: expected a CheXpert Plus CSV with path_to_image")
            texts[_chexpert_key(record["path_to_image"])] = (
                re.sub(r"\s+", " ", record.get("section_findings") or "").strip(),
                re.sub(r"\s+", " ", record.get("section_impression") or "").strip())
    result = AdapterResult()
    seen: set[str] = set()
    sources = [(name, "test" if name == "valid.csv" else None)
               for name in ("train.csv", "valid.csv") if (root / name).exists()]
    if not sources:
        raise AdapterError(f"{root}: no train.csv or valid.csv")
    for name, fixed_split in sources:
        for record in _csv_rows(root / name):
            if record.get("Frontal/Lateral", "Frontal") != "Frontal":
                continue
            key = _chexpert_key(record["Path"])
            study = str(Path(key).parent)
            if study in seen:
                continue
            seen.add(study)
            image = root / key
            if not image.is_file():
                result.skipped["no image"] += 1
                continue
            findings, impression = texts.get(key, ("", ""))
            if not findings and not impression and not keep_without_text:
                result.skipped["no report text"] += 1
                continue
            split = fixed_split or assign_split(study, 0.0, valid_fraction)
            result.rows.append(ManifestRow(study, _relative(image, Path(manifest_dir)), findings,
                                           impression, _positive_labels(record), split))
    return result

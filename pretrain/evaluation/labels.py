"""Finding labels derived from Open-I MeSH tags, and the prompts that describe them.

Open-I tags are MeSH headings with qualifiers ("Pleural Effusion/left/small"); only the heading
(before the first "/") decides a label, matched case-insensitively. Tags name findings that are
present, so a label is 1 when any of its headings is tagged and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelSpec:
    """A label: the MeSH headings that make it positive, and zero-shot prompts for and against."""

    headings: tuple[str, ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...]


LABELS: dict[str, LabelSpec] = {
    "cardiomegaly": LabelSpec(
        ("Cardiomegaly",),
        ("Cardiomegaly.", "The heart is enlarged."),
        ("No cardiomegaly.", "The heart is normal in size."),
    ),
    "effusion": LabelSpec(
        ("Pleural Effusion",),
        ("Pleural effusion.", "There is a pleural effusion."),
        ("No pleural effusion.", "There is no pleural effusion."),
    ),
    "opacity": LabelSpec(
        ("Opacity", "Airspace Disease", "Consolidation", "Infiltrate", "Density", "Pneumonia"),
        ("Airspace opacity.", "There is a focal consolidation."),
        ("No airspace opacity.", "No focal consolidation."),
    ),
    "atelectasis": LabelSpec(
        ("Pulmonary Atelectasis", "Atelectasis"),
        ("Atelectasis.", "There is atelectasis."),
        ("No atelectasis.", "There is no atelectasis."),
    ),
    "pneumothorax": LabelSpec(
        ("Pneumothorax",),
        ("Pneumothorax.", "There is a pneumothorax."),
        ("No pneumothorax.", "There is no pneumothorax."),
    ),
    "edema": LabelSpec(
        ("Pulmonary Edema", "Pulmonary Congestion"),
        ("Pulmonary edema.", "There is pulmonary vascular congestion."),
        ("No pulmonary edema.", "No pulmonary vascular congestion."),
    ),
    "nodule": LabelSpec(
        ("Nodule", "Calcified Granuloma", "Granulomatous Disease", "Granuloma", "Mass"),
        ("Pulmonary nodule.", "There is a calcified granuloma."),
        ("No pulmonary nodule.", "No nodules or masses."),
    ),
    "emphysema": LabelSpec(
        ("Emphysema", "Pulmonary Emphysema", "Pulmonary Disease, Chronic Obstructive"),
        ("Emphysema.", "The lungs are hyperexpanded."),
        ("No emphysema.", "The lungs are not hyperexpanded."),
    ),
    "devices": LabelSpec(
        (
            "Implanted Medical Device",
            "Medical Device",
            "Catheters, Indwelling",
            "Tube, Inserted",
            "Surgical Instruments",
            "Pacemaker, Artificial",
            "Stents",
        ),
        ("A support device is present.", "There is a catheter."),
        ("No support devices.", "There is no catheter."),
    ),
    "normal": LabelSpec(
        ("normal",),
        ("Normal chest.", "No acute cardiopulmonary abnormality."),
        ("Abnormal chest.", "There is an acute cardiopulmonary abnormality."),
    ),
}


def heading(tag: str) -> str:
    """The MeSH heading of an Open-I tag, normalised for matching."""
    return tag.split("/", 1)[0].strip().casefold()


def derive_labels(tags: Iterable[str], labels: Mapping[str, LabelSpec] = LABELS) -> dict[str, int]:
    """1/0 per label for one report's tags."""
    present = {heading(t) for t in tags}
    return {
        name: int(any(h.casefold() in present for h in spec.headings))
        for name, spec in labels.items()
    }


def label_matrix(
    tag_lists: Sequence[Iterable[str]], labels: Mapping[str, LabelSpec] = LABELS
) -> dict[str, np.ndarray]:
    """Label name → 0/1 vector over reports."""
    rows = [derive_labels(tags, labels) for tags in tag_lists]
    return {name: np.array([r[name] for r in rows], dtype=np.int64) for name in labels}

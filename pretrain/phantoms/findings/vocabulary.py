"""Which drawable finding (if any) an Open-I MeSH tag names.

The same picture is indexed under several headings (`Cardiac Shadow/enlarged` is cardiomegaly,
`Costophrenic Angle/blunted` a small effusion, `Lung/hyperdistention` hyperinflation), and one
heading can mean different things by its qualifiers (`Calcinosis/aorta` vs `Calcinosis/lung/hilum`).
The kinds are named as in `perturb.clinical.vocabulary`, the one finding vocabulary that the
text edits share with the renderer.
"""

from __future__ import annotations

from perturb.clinical.vocabulary import FINDING_NAMES
from pretrain.data.tags import Tag

#: headings that name one drawable finding whatever their qualifiers
DIRECT = {
    "normal": "normal",
    "cardiomegaly": "cardiomegaly",
    "pleural effusion": "pleural effusion",
    "pneumothorax": "pneumothorax",
    "opacity": "airspace opacity",
    "consolidation": "airspace opacity",
    "airspace disease": "airspace opacity",
    "pneumonia": "airspace opacity",
    "infiltrate": "airspace opacity",
    "pulmonary atelectasis": "atelectasis",
    "atelectasis": "atelectasis",
    "nodule": "nodule",
    "mass": "mass",
    "granuloma": "granuloma",
    "calcified granuloma": "calcified granuloma",
    "granulomatous disease": "calcified granuloma",
    "emphysema": "hyperinflation",
    "pulmonary emphysema": "hyperinflation",
    "pulmonary disease, chronic obstructive": "hyperinflation",
    "lung, hyperlucent": "hyperinflation",
    "diaphragmatic eventration": "elevated hemidiaphragm",
    "pulmonary congestion": "congestion",
    "pulmonary edema": "congestion",
    "heart failure": "congestion",
    "hernia, hiatal": "hiatal hernia",
    "aortic aneurysm": "tortuous aorta",
    "catheters, indwelling": "catheter",
    "tube, inserted": "tube",
    "osteophyte": "degenerative spine",
    "spondylosis": "degenerative spine",
    "scoliosis": "scoliosis",
}
if not set(DIRECT.values()) <= FINDING_NAMES:
    raise ImportError(f"drawable findings outside perturb.clinical.vocabulary: {sorted(set(DIRECT.values()) - FINDING_NAMES)}")
LUNG_PLACES = {"lung", "upper lobe", "middle lobe", "lower lobe", "base", "apex", "lingula",
               "hilum", "retrocardiac", "lymph nodes", "mediastinum", "paratracheal"}
STERNAL_OR_ABDOMINAL = {"mediastinum", "thorax", "sternum", "abdomen"}
BODY_ELSEWHERE = {"humerus", "shoulder", "breast", "neck", "abdomen", "clavicle"}


def classify(tag: Tag) -> str | None:
    """The name of the drawable finding that shows `tag`, or None when the phantom cannot."""
    finding = tag.finding
    if finding in DIRECT:
        return DIRECT[finding]
    if finding in ("cardiac shadow", "heart"):
        return "cardiomegaly" if tag.has("enlarged") or tag.severity is not None else None
    if finding == "costophrenic angle":
        return "pleural effusion" if tag.has("blunted") else None
    if finding == "density":
        return "airspace opacity" if LUNG_PLACES & set(tag.zones) - {"mediastinum"} else None
    if finding == "cicatrix":
        return "atelectasis" if "lung" in tag.zones else None
    if finding == "calcinosis":
        if tag.has("aorta") or tag.has("aorta, thoracic"):
            return "aortic calcification"
        return "calcified granuloma" if LUNG_PLACES & set(tag.zones) else None
    if finding == "atherosclerosis":
        return "aortic calcification" if tag.has("aorta") or tag.has("aorta, thoracic") else None
    if finding == "lung":
        if tag.has("hyperdistention"):
            return "hyperinflation"
        return "hypoinflation" if tag.has("hypoinflation") else None
    if finding == "diaphragm":
        if tag.has("elevated"):
            return "elevated hemidiaphragm"
        return "hyperinflation" if tag.has("flattened") else None
    if finding in ("aorta", "aorta, thoracic"):
        return "tortuous aorta" if {"tortuous", "prominent", "enlarged"} & set(tag.modifiers) \
            else None
    if finding == "mediastinum":
        return "wide mediastinum" if tag.has("prominent") or tag.has("enlarged") else None
    if finding == "markings":
        return "congestion"
    if finding == "implanted medical device":
        return None if BODY_ELSEWHERE & set(tag.zones) else "implanted device"
    if finding == "surgical instruments":
        return "surgical material" if set(tag.zones) <= STERNAL_OR_ABDOMINAL else None
    if finding in ("spine", "thoracic vertebrae"):
        return "degenerative spine" if tag.has("degenerative") else None
    return None

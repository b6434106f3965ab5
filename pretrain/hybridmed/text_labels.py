"""Finding labels of a written impression: the MeSH headings it asserts, then the project's
MeSH → label mapping (`pretrain.evaluation.labels.derive_labels`), so that a generated impression
is labelled exactly as an image's tags are.

A heading is asserted when one of its surface forms occurs outside a negation's scope. Negation
scope is NegEx (`negspacy`, its clinical term set: "no", "without", "free of", "negative for",
…, up to a sentence end or a terminating word such as "but"). Surface forms are each label
heading as written, plus the words Open-I impressions use for it (`SURFACE_FORMS`, chosen by
reading train-split impressions; `OTHER_FINDINGS` keeps e.g. "subcutaneous emphysema" from
asserting emphysema). The `normal` label has no surface form: a text is `normal`
when it asserts no finding of any other label, which is what the Open-I `normal` tag records.
The pipeline is a blank English tokenizer, sentencizer, phrase entity ruler and NegEx — no
statistical model, so it is fast and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from pretrain.evaluation.labels import LABELS, LabelSpec, label_matrix

#: The label whose heading is "no other finding asserted".
NORMAL = "normal"
#: MeSH heading → further phrases (lower case) that assert it in Open-I impressions.
SURFACE_FORMS: dict[str, tuple[str, ...]] = {
    "Cardiomegaly": ("enlarged heart", "cardiac enlargement", "enlarged cardiac silhouette",
                     "heart is enlarged", "heart size is enlarged", "enlargement of the cardiac silhouette"),
    "Pleural Effusion": ("pleural effusions", "effusion", "effusions", "pleural fluid"),
    "Opacity": ("opacities", "airspace opacity", "airspace opacities"),
    "Airspace Disease": ("air space disease",),
    "Consolidation": ("consolidations",),
    "Infiltrate": ("infiltrates",),
    "Density": ("densities",),
    "Pneumonia": ("pneumonias",),
    "Atelectasis": ("atelectatic",),
    "Pneumothorax": ("pneumothoraces",),
    "Pulmonary Edema": ("edema", "interstitial edema"),
    "Pulmonary Congestion": ("vascular congestion", "congestion", "congestive heart failure"),
    "Nodule": ("nodules", "nodular"),
    "Calcified Granuloma": ("calcified granulomas",),
    "Granuloma": ("granulomas", "granulomata"),
    "Granulomatous Disease": ("granulomatous",),
    "Mass": ("masses",),
    "Emphysema": ("emphysematous",),
    "Pulmonary Disease, Chronic Obstructive": ("copd", "chronic obstructive pulmonary disease"),
    "Medical Device": ("device", "devices"),
    "Catheters, Indwelling": ("catheter", "catheters", "picc", "central line", "port"),
    "Tube, Inserted": ("tube", "tubes"),
    "Pacemaker, Artificial": ("pacemaker", "pacer", "defibrillator"),
    "Stents": ("stent",),
}
#: Phrases that contain a label's word but name another finding: matched as their own (label-less)
#: heading, so the longer match wins over the label's word.
OTHER_FINDINGS: dict[str, tuple[str, ...]] = {
    "Subcutaneous Emphysema": ("subcutaneous emphysema",),
    "Mediastinal Emphysema": ("mediastinal emphysema", "pneumomediastinum"),
    "Pericardial Effusion": ("pericardial effusion",),
}


def _patterns(labels: Mapping[str, LabelSpec]) -> list[dict[str, str]]:
    patterns = []
    for name, spec in labels.items():
        if name == NORMAL:
            continue
        for heading in spec.headings:
            for phrase in (heading.casefold(), *SURFACE_FORMS.get(heading, ())):
                patterns.append({"label": "FINDING", "pattern": phrase, "id": heading})
    for heading, phrases in OTHER_FINDINGS.items():
        patterns += [{"label": "FINDING", "pattern": phrase, "id": heading} for phrase in phrases]
    return patterns


def build_pipeline(labels: Mapping[str, LabelSpec] = LABELS):
    """The spaCy pipeline that marks asserted and negated finding mentions."""
    import negspacy.negation  # noqa: F401  (registers the "negex" factory)
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(_patterns(labels))
    nlp.add_pipe("negex", config={"ent_types": ["FINDING"]})
    return nlp


class ImpressionLabeller:
    """Texts → asserted MeSH headings → label vectors (as `label_matrix` gives for tags)."""

    def __init__(self, labels: Mapping[str, LabelSpec] = LABELS) -> None:
        self.labels = dict(labels)
        self.nlp = build_pipeline(self.labels)

    def headings(self, texts: Iterable[str]) -> list[list[str]]:
        """The asserted headings of each text; ['normal'] for a text asserting none."""
        out = []
        for doc in self.nlp.pipe(texts):
            asserted = sorted({ent.ent_id_ for ent in doc.ents if not ent._.negex})
            out.append(asserted or ([NORMAL] if NORMAL in self.labels else []))
        return out

    def label_matrix(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Label name → 0/1 vector over the texts."""
        return label_matrix(self.headings(texts), self.labels)

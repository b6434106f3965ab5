"""The finding vocabulary shared by the clinical edits and the phantom renderer.

Each `Finding` is named exactly as the renderer names what it draws
(`pretrain.phantoms.findings.vocabulary` imports `FINDING_NAMES` from here), lists the words reports
use for it and says which attributes it can carry: a side, a severity (on a size or a degree
scale) and a zone. Everything is lower-case; a term is a sequence of tokens as spaCy splits them.

Two kinds of wording name a finding:
- a *term* (a noun phrase head): "pleural effusion", "pneumothoraces", "airspace disease";
- a *state* of an anatomical *anchor*: "the heart is enlarged", "elevation of the left
  hemidiaphragm", "tortuous aorta" — the anchor and the state word together are the mention.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZE = "size"  # small / moderate / large
DEGREE = "degree"  # mild / moderate / severe


@dataclass(frozen=True)
class Finding:
    """A finding the renderer can draw and the text edits can change.

    `terms`: report words that name it (singular and plural forms); `anchors`/`states`: the
    anatomy and the words that, said of it, name the finding; `side`/`zone`: whether a side
    (left/right) or a lung zone belongs to it; `severity`: its scale (`SIZE`, `DEGREE`) or None."""

    name: str
    terms: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    side: bool = False
    severity: str | None = None
    zone: bool = False


FINDINGS: dict[str, Finding] = {
    f.name: f
    for f in (
        Finding(
            "pleural effusion",
            terms=("pleural effusion", "pleural effusions", "effusion", "effusions", "pleural fluid"),
            anchors=("costophrenic angle", "costophrenic angles", "costophrenic sulcus"),
            states=("blunting", "blunted"),
            side=True,
            severity=SIZE,
        ),
        Finding("pneumothorax", terms=("pneumothorax", "pneumothoraces"), side=True, severity=SIZE),
        Finding(
            "airspace opacity",
            terms=(
                "airspace disease", "air space disease", "airspace opacity", "airspace opacities",
                "air space opacity", "air space opacities", "airspace consolidation",
                "consolidation", "consolidations", "opacity", "opacities", "opacification",
                "infiltrate", "infiltrates", "pneumonia",
            ),
            side=True,
            severity=DEGREE,
            zone=True,
        ),
        Finding(
            "atelectasis",
            terms=("atelectasis", "scarring", "scar", "scars"),
            side=True,
            severity=DEGREE,
            zone=True,
        ),
        Finding(
            "calcified granuloma",
            terms=("calcified granuloma", "calcified granulomas", "calcified granulomata",
                   "calcified nodule", "calcified nodules", "granulomatous disease"),
            side=True,
            zone=True,
        ),
        Finding("granuloma", terms=("granuloma", "granulomas", "granulomata"), side=True, severity=SIZE, zone=True),
        Finding(
            "nodule",
            terms=("nodule", "nodules", "nodular opacity", "nodular opacities", "nodular density"),
            side=True,
            severity=SIZE,
            zone=True,
        ),
        Finding("mass", terms=("mass", "masses"), side=True, severity=SIZE, zone=True),
        Finding(
            "cardiomegaly",
            terms=("cardiomegaly", "cardiac enlargement"),
            anchors=("heart", "heart size", "cardiac silhouette", "cardiac shadow", "cardiomediastinal silhouette"),
            states=("enlarged", "enlargement"),
            severity=DEGREE,
        ),
        Finding(
            "hyperinflation",
            terms=("hyperinflation", "hyperexpansion", "emphysema", "copd"),
            anchors=("lungs", "lung"),
            states=("hyperinflated", "hyperexpanded", "overinflated"),
            severity=DEGREE,
        ),
        Finding(
            "hypoinflation",
            terms=("hypoinflation", "low lung volumes"),
            anchors=("lungs",),
            states=("hypoinflated", "hypoexpanded"),
            severity=DEGREE,
        ),
        Finding(
            "elevated hemidiaphragm",
            terms=("eventration",),
            anchors=("hemidiaphragm", "diaphragm"),
            states=("elevated", "elevation"),
            side=True,
            severity=DEGREE,
        ),
        Finding(
            "congestion",
            terms=("edema", "pulmonary edema", "congestion", "vascular congestion", "heart failure", "chf"),
            severity=DEGREE,
        ),
        Finding("hiatal hernia", terms=("hiatal hernia", "hiatus hernia"), severity=SIZE),
        Finding(
            "tortuous aorta",
            terms=("aortic tortuosity", "aortic ectasia"),
            anchors=("aorta", "thoracic aorta", "aortic arch"),
            states=("tortuous", "tortuosity", "ectatic", "ectasia"),
            severity=DEGREE,
        ),
        Finding(
            "aortic calcification",
            terms=("aortic calcification", "aortic calcifications", "aortic atherosclerosis"),
            anchors=("aorta", "thoracic aorta", "aortic arch", "aortic knob"),
            states=("calcified", "calcification", "calcifications", "atherosclerotic"),
            severity=DEGREE,
        ),
        Finding(
            "wide mediastinum",
            anchors=("mediastinum", "mediastinal silhouette", "superior mediastinum"),
            states=("widened", "widening"),
            severity=DEGREE,
        ),
        Finding(
            "degenerative spine",
            terms=("spondylosis", "osteophytes", "osteophyte", "degenerative disc disease"),
            severity=DEGREE,
        ),
        Finding(
            "scoliosis",
            terms=("scoliosis", "dextroscoliosis", "levoscoliosis", "dextrocurvature", "levocurvature"),
            side=True,
            severity=DEGREE,
        ),
        Finding("catheter", terms=("catheter", "catheters", "picc"), side=True),
        Finding("tube", terms=("tube", "tubes"), side=True),
        Finding(
            "implanted device",
            terms=("pacemaker", "pacer", "defibrillator", "icd", "aicd", "loop recorder"),
            side=True,
        ),
        Finding("surgical material", terms=("sternotomy wires", "surgical clips", "clips", "sutures", "staples")),
    )
}

#: Plural forms among the terms' words (the tagger does not always say so).
PLURALS = frozenset({
    "effusions", "pneumothoraces", "opacities", "consolidations", "infiltrates", "scars",
    "granulomas", "granulomata", "nodules", "masses", "osteophytes", "catheters", "tubes", "clips",
    "sutures", "staples", "calcifications", "angles",
})

#: Phrases that hold a finding's term but name something else.
NOT_FINDINGS = (
    "subcutaneous emphysema", "subcutaneous air", "mediastinal emphysema", "pericardial effusion",
    "pericardial effusions", "pericardial fluid", "joint effusion",
)

#: Every finding the renderer draws, "normal" included (it names no finding in the text).
FINDING_NAMES = frozenset(FINDINGS) | {"normal"}

#: Side words and their mirror images. "L"/"R" are sides only as written in capitals.
SIDES = {"left": "right", "right": "left", "leftward": "rightward", "rightward": "leftward"}
SIDE_LETTERS = {"L": "R", "R": "L"}
#: Terms that carry their side in the word itself.
SIDED_TERMS = {
    "dextroscoliosis": ("right", "levoscoliosis"),
    "levoscoliosis": ("left", "dextroscoliosis"),
    "dextrocurvature": ("right", "levocurvature"),
    "levocurvature": ("left", "dextrocurvature"),
}
#: Lung parts on one side only (as the renderer draws them): a mention naming them cannot change side.
ONE_SIDED_PARTS = frozenset({"middle", "lingula", "lingular", "retrocardiac"})

#: Severity words: (scale, level, part of speech). Levels follow the renderer's scale
#: (`pretrain.data.tags.SEVERITY`: borderline 0.6, mild/small 1, moderate 2, severe/large 3).
SEVERITY: dict[str, tuple[str | None, float, str]] = {
    "minimal": (None, 0.5, "ADJ"),  # either scale
    "trace": (SIZE, 0.5, "ADJ"),
    "tiny": (SIZE, 0.5, "ADJ"),
    "small": (SIZE, 1.0, "ADJ"),
    "large": (SIZE, 3.0, "ADJ"),
    "moderate": (None, 2.0, "ADJ"),  # either scale
    "slight": (DEGREE, 0.5, "ADJ"),
    "borderline": (DEGREE, 0.6, "ADJ"),
    "mild": (DEGREE, 1.0, "ADJ"),
    "severe": (DEGREE, 3.0, "ADJ"),
    "marked": (DEGREE, 3.0, "ADJ"),
    "minimally": (DEGREE, 0.5, "ADV"),
    "slightly": (DEGREE, 0.5, "ADV"),
    "mildly": (DEGREE, 1.0, "ADV"),
    "moderately": (DEGREE, 2.0, "ADV"),
    "markedly": (DEGREE, 3.0, "ADV"),
    "severely": (DEGREE, 3.0, "ADV"),
}
#: The words a severity edit writes, per (scale, part of speech), by level.
SEVERITY_TARGETS = {
    (SIZE, "ADJ"): {1.0: "small", 2.0: "moderate", 3.0: "large"},
    (DEGREE, "ADJ"): {1.0: "mild", 2.0: "moderate", 3.0: "severe"},
    (DEGREE, "ADV"): {1.0: "mildly", 2.0: "moderately", 3.0: "markedly"},
}

#: Zone words: form → (its zone, the same form of the opposite zone); upper and apex lie up,
#: lower and base down.
ZONE_FORMS = {
    "upper": ("upper", "lower"),
    "lower": ("lower", "upper"),
    "apex": ("apex", "base"),
    "apices": ("apex", "bases"),
    "apical": ("apex", "basilar"),
    "biapical": ("apex", "bibasilar"),
    "base": ("base", "apex"),
    "bases": ("base", "apices"),
    "basilar": ("base", "apical"),
    "basal": ("base", "apical"),
    "bibasilar": ("base", "biapical"),
}
#: Words that tie a mention to one zone, so that moving it up or down would contradict them.
ZONE_BOUND = frozenset({
    "retrocardiac", "costophrenic", "lingula", "lingular", "suprahilar", "infrahilar", "superior",
    "inferior", "rib", "ribs", "diaphragm", "hemidiaphragm", "clavicle", "segment", "segments", "adjacent",
})
#: Nouns that name where in the chest a finding lies (ends of location phrases).
LOCATION_NOUNS = frozenset({
    "lobe", "lobes", "lung", "lungs", "base", "bases", "apex", "apices", "zone", "zones", "field",
    "fields", "hemithorax", "region", "aspect", "side", "lingula", "midlung", "hilum", "hila",
    "periphery", "segment", "left", "right", "angle", "angles", "sulcus",
})

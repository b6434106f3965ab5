"""The four clinical kinds, registered like any other perturbation.

Each picks one editable mention of the report at random (then, for severity, one of the other
levels) and returns its replacements; the engine rewrites the written words holding them in
their slots' case and records each as a `Replacement`. Nothing moves, so the source index is
the identity; a report with no editable mention gives `applicable=False`.
"""

from __future__ import annotations

import numpy as np

from perturb.clinical.edits import severity_edit, severity_targets
from perturb.clinical.families import editable
from perturb.parsed import ParsedReport
from perturb.registry import Edit, register, register_set

#: Kind name → edit family.
CLINICAL_FAMILIES = {
    "swap_laterality": "laterality",
    "flip_negation": "presence",
    "swap_severity": "severity",
    "swap_location": "location",
}
NEEDS = ("pos", "sentences", "deps")


def _pick(report: ParsedReport, rng: np.random.Generator, family: str) -> Edit | None:
    edits = editable(report, family)
    if not edits:
        return None
    chosen = edits[int(rng.integers(len(edits)))]
    if family == "severity":
        targets = severity_targets(report, chosen.mention)
        chosen = severity_edit(report, chosen.mention, targets[int(rng.integers(len(targets)))]) or chosen
    return Edit(report.layout.identity, dict(chosen.replacements))


DESCRIPTIONS = {
    "swap_laterality": "Mirror the side of one finding mention (left ↔ right, leftward, L/R, "
    "dextro-/levoscoliosis), inside that mention only.",
    "flip_negation": "Deny one asserted finding mention or assert one negated one "
    "(dependency-parse cue scope; lists keep their other members' polarity).",
    "swap_severity": "Change the severity of one finding mention (mild/moderate/severe, "
    "small/moderate/large, mildly/moderately/markedly).",
    "swap_location": "Move one finding mention up or down the lung (upper ↔ lower lobe or zone, "
    "apex ↔ base, apical ↔ basilar).",
}


def _kind(name: str, family: str):  # type: ignore[no-untyped-def]
    def perturbation(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
        return _pick(report, rng, family)

    perturbation.__name__ = perturbation.__qualname__ = name
    perturbation.__doc__ = DESCRIPTIONS[name]
    return perturbation


for _name, _family in CLINICAL_FAMILIES.items():
    register(_name, description=DESCRIPTIONS[_name], word_preserving=False, needs=NEEDS)(_kind(_name, _family))

CLINICAL_KINDS = tuple(CLINICAL_FAMILIES)
register_set("clinical", CLINICAL_KINDS)

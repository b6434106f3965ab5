"""The four clinical kinds, registered like any other perturbation.

Each picks one editable mention of the report at random (then, for severity, one of the other
levels) and returns its replacements; the engine renders them in their positions' case and
records each replaced word as a `Replacement`. Nothing moves, so the source index is the
identity; a report with no editable mention gives `applicable=False`.
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


@register(
    "swap_laterality",
    description="Mirror the side of one finding mention (left ↔ right, leftward, L/R, "
    "dextro-/levoscoliosis), inside that mention only.",
    word_preserving=False,
    needs=NEEDS,
)
def swap_laterality(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _pick(report, rng, "laterality")


@register(
    "flip_negation",
    description="Deny one asserted finding mention or assert one negated one "
    "(dependency-parse cue scope; lists keep their other members' polarity).",
    word_preserving=False,
    needs=NEEDS,
)
def flip_negation(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _pick(report, rng, "presence")


@register(
    "swap_severity",
    description="Change the severity of one finding mention (mild/moderate/severe, "
    "small/moderate/large, mildly/moderately/markedly).",
    word_preserving=False,
    needs=NEEDS,
)
def swap_severity(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _pick(report, rng, "severity")


@register(
    "swap_location",
    description="Move one finding mention up or down the lung (upper ↔ lower lobe or zone, "
    "apex ↔ base, apical ↔ basilar).",
    word_preserving=False,
    needs=NEEDS,
)
def swap_location(report: ParsedReport, rng: np.random.Generator, scope: str) -> Edit | None:
    return _pick(report, rng, "location")


CLINICAL_KINDS = tuple(CLINICAL_FAMILIES)
register_set("clinical", CLINICAL_KINDS)

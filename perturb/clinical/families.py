"""The four edit families, the editor of each and the kind that makes its edits: what
`swap_laterality`, `flip_negation`, `swap_severity` and `swap_location` and the targeted
`edit_report` share."""

from __future__ import annotations

from perturb.clinical.edits import MentionEdit, laterality_edit, location_edit, severity_edit
from perturb.clinical.mentions import find_mentions
from perturb.clinical.presence import presence_edit
from perturb.layout import Layout
from perturb.parsed import ParsedReport

FAMILIES = ("laterality", "presence", "severity", "location")
#: The clinical kind of each family's edits (registered by `perturb.kinds.clinical`).
CLINICAL_FAMILIES = {
    "swap_laterality": "laterality",
    "flip_negation": "presence",
    "swap_severity": "severity",
    "swap_location": "location",
}
CLINICAL_KINDS = tuple(CLINICAL_FAMILIES)

EDITORS = {
    "laterality": laterality_edit,
    "presence": presence_edit,
    "severity": severity_edit,
    "location": location_edit,
}


def editable(report: ParsedReport, family: str) -> tuple[MentionEdit, ...]:
    """Every mention of `report` that `family` can edit, with its default edit (remembered)."""
    return report.layout.derived(_editable, family)


def _editable(layout: Layout, family: str) -> tuple[MentionEdit, ...]:
    report = layout.report
    edit = EDITORS[family]
    return tuple(e for m in find_mentions(report) if (e := edit(report, m)) is not None)

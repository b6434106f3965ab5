"""The four edit families and the editor of each: what `swap_laterality`, `flip_negation`,
`swap_severity` and `swap_location` and the targeted `edit_report` share."""

from __future__ import annotations

from perturb.clinical.edits import MentionEdit, laterality_edit, location_edit, severity_edit
from perturb.clinical.mentions import find_mentions
from perturb.clinical.presence import presence_edit
from perturb.parsed import ParsedReport

FAMILIES = ("laterality", "presence", "severity", "location")

EDITORS = {
    "laterality": laterality_edit,
    "presence": presence_edit,
    "severity": severity_edit,
    "location": location_edit,
}


def editable(report: ParsedReport, family: str) -> tuple[MentionEdit, ...]:
    """Every mention of `report` that `family` can edit, with its default edit (remembered)."""

    def build() -> tuple[MentionEdit, ...]:
        edit = EDITORS[family]
        return tuple(e for m in find_mentions(report) if (e := edit(report, m)) is not None)

    return report.layout.memo(("clinical", "editable", family), build)

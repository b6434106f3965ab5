"""Clinical edits: fluent negatives that change what a report says — a finding's side, presence,
severity or zone — made from the parse and one finding vocabulary shared with the renderer.

- `vocabulary`: the findings (the phantom renderer's names), their report words and attributes;
- `mentions`: where a report names a finding and which words carry its attributes;
- `negation`: cue lists and the scope rule (negated, hedged, compared with a prior study);
- `edits` (side, severity, zone) and `presence`: the edit of one mention, `families` their table;
- `targeted`: `edit_report`, a requested change of one finding, and `describe`, a result's
  provenance;
- `kinds`: `swap_laterality`, `flip_negation`, `swap_severity`, `swap_location`, registered;
- `testing`: a hypothesis strategy of parsed clinical reports and the kinds' invariant checks.
"""

from perturb.clinical.edits import MentionEdit
from perturb.clinical.families import FAMILIES
from perturb.clinical.kinds import CLINICAL_FAMILIES, CLINICAL_KINDS
from perturb.clinical.mentions import Mention, find_mentions
from perturb.clinical.negation import Polarity, polarities
from perturb.clinical.targeted import KIND_OF_FAMILY, describe, edit_mention, edit_report
from perturb.clinical.vocabulary import FINDING_NAMES, FINDINGS, Finding

__all__ = [
    "CLINICAL_FAMILIES",
    "CLINICAL_KINDS",
    "FAMILIES",
    "FINDINGS",
    "FINDING_NAMES",
    "Finding",
    "KIND_OF_FAMILY",
    "Mention",
    "MentionEdit",
    "Polarity",
    "describe",
    "edit_mention",
    "edit_report",
    "find_mentions",
    "polarities",
]

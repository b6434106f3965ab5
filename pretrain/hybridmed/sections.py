"""Which records each HybridMED term can score, given the report sections they have.

A record lacking a section its term needs is skipped by that term (not dropped from the batch:
the other terms still use it) and counted (`skipped_<term>` in the run's metrics), so a run
reports how much each term saw. On Open-I
(3,955 reports) 3,425 have FINDINGS, 3,921 an IMPRESSION, 3,419 both (docs/hybridmed.md).
"""

from __future__ import annotations

import torch

#: Term → the sections it reads. cg: global image ↔ impression; cl: image regions ↔ findings
#: words; cap: image → impression; sum: findings → impression; dis: summarisation → captioning.
TERM_SECTIONS: dict[str, tuple[str, ...]] = {
    "cg": ("impression",),
    "cl": ("findings",),
    "cap": ("impression",),
    "sum": ("findings", "impression"),
    "dis": ("findings", "impression"),
}
#: Fewest records a contrastive term (cg, cl) needs: one pair alone has no negative to learn
#: from. The generation terms need one.
MIN_PAIRS = 2


def term_rows(has_findings: torch.Tensor, has_impression: torch.Tensor) -> dict[str, torch.Tensor]:
    """Term → bool [B]: the records that have every section the term reads."""
    has = {"findings": has_findings.bool(), "impression": has_impression.bool()}
    rows = {}
    for term, sections in TERM_SECTIONS.items():
        mask = torch.ones_like(has["findings"])
        for section in sections:
            mask = mask & has[section]
        rows[term] = mask
    return rows

"""docs/architecture.md stays true: its example kind runs and keeps the contract of a kind."""

from __future__ import annotations

import re
from pathlib import Path

import perturb
from perturb.testing import check_batch_matches_single, check_invariants, check_kernel_matches_reference

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def _example() -> str:
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## Adding a kind", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_the_documented_example_kind_is_short_and_keeps_the_contract_of_a_kind(real_reports):
    code = _example()
    assert len(code.strip().splitlines()) < 30
    exec(compile(code, str(ARCHITECTURE), "exec"), {})
    try:
        spec = perturb.get("rotate_words")
        assert spec.batch is not None and spec.deterministic
        for scope in perturb.SCOPES:
            check_kernel_matches_reference(real_reports, ["rotate_words"], seed=1, scope=scope)
            check_batch_matches_single(real_reports[:50], ["rotate_words"], seed=1, scope=scope)
            for report in real_reports[:50]:
                check_invariants(report, perturb.apply(report, "rotate_words", seed=1, scope=scope), scope=scope)
        result = perturb.apply(perturb.ParsedReport(("a", "b", "c"), (" ", " ", ""), ("X",) * 3, ("NOUN",) * 3,
                                                    (0, 0, 0)), "rotate_words", seed=0)
        assert result.text == "b c a"
    finally:
        del perturb.PERTURBATIONS["rotate_words"]

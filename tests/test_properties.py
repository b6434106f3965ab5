"""Property tests: every registered perturbation keeps its invariants, on generated reports and on
real ones."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perturb
from perturb.testing import check_invariants, parsed_reports

KINDS = list(perturb.PERTURBATIONS)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scope", perturb.SCOPES)
@FAST
@given(report=parsed_reports(), seed=st.integers(0, 2**32 - 1))
def test_generated_reports_keep_every_invariant(kind, scope, report, seed):
    result = perturb.apply(report, kind, seed=seed, scope=scope)
    check_invariants(report, result, scope=scope, seed=seed)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scope", perturb.SCOPES)
def test_real_reports_keep_every_invariant(kind, scope, real_reports):
    applicable = 0
    for i, report in enumerate(real_reports):
        for draw in range(2):
            result = perturb.apply(report, kind, seed=i, scope=scope, draw=draw)
            check_invariants(report, result, scope=scope, seed=i)
            applicable += result.applicable
    assert applicable > 0, f"{kind} never applied to a real report"


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(report=parsed_reports(), seed=st.integers(0, 2**32 - 1))
def test_applicable_implies_text_differs_from_original(kind, report, seed):
    result = perturb.apply(report, kind, seed=seed)
    assert result.applicable == (result.text != report.text)


@FAST
@given(text=st.text(max_size=200))
def test_arbitrary_unicode_text_never_raises(parser, text):
    report = parser.parse(text)
    for result in perturb.apply_many(report, seed=1):
        assert isinstance(result.text, str)
        if not report.layout.words:
            assert not result.applicable


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t  \n"])
def test_empty_and_whitespace_only_input_is_not_applicable(parser, text):
    report = parser.parse(text)
    assert all(not r.applicable for r in perturb.apply_many(report, seed=0))


def test_ten_thousand_word_input_never_raises(parser):
    text = " ".join(["No pleural effusion or pneumothorax, mild cardiomegaly."] * 1500)
    report = parser.parse(text)
    assert len(report.layout.words) >= 10_000
    for result in perturb.apply_many(report, seed=0, scope="sentence"):
        check_invariants(report, result, scope="sentence")

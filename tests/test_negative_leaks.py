"""The real-report check of issue 11: on the 475 Open-I test-split reports, negatives cannot be
told from their originals by casing or by a word form that neither the original nor the training
reports contain (`perturb.leaks`; the same figures as `benchmarks/negative_leaks.py`) — the
paper's kinds within the issue's targets, the clinical edits not at all.

It parses exactly the population the targets are stated for — every test-split report, about 5 s
here — and none of the 3,255 training reports: their vocabulary is read from the text alone.
"""

from __future__ import annotations

import pytest

import perturb
from perturb.antonyms import LEXICON
from perturb.leaks import measure, vocabulary
from pretrain.data.splits import assign_split

pytestmark = pytest.mark.openi
ANTONYMS = "replace_adjectives_with_antonyms"


@pytest.fixture(scope="module")
def openi_split():
    from pretrain.data.openi import OpenIUnavailable, load_openi

    try:
        reports = [r for r in load_openi() if r.text]
    except OpenIUnavailable as err:
        pytest.skip(f"Open-I reports unavailable: {err}")
    test = [r for r in reports if assign_split(r.id) == "test"]
    train = [r.text for r in reports if assign_split(r.id) == "train"]
    return test, train


@pytest.fixture(scope="module")
def test_reports(parser, openi_split):
    test, _ = openi_split
    return test, list(parser.parse_many([r.text for r in test], batch_size=128))


@pytest.mark.parametrize("scope", perturb.SCOPES)
def test_negatives_of_the_test_reports_leak_neither_by_casing_nor_by_word_forms(test_reports, openi_split, scope):
    test, parsed = test_reports
    assert len(parsed) == 475
    rows = perturb.apply_batch(parsed, seed=0, keys=[r.id for r in test], scope=scope)
    leaks = measure([p.text for p in parsed], rows, vocabulary(openi_split[1]))
    for kind in perturb.PAPER_KINDS:
        found = leaks[kind]
        target = 0.05 if kind == ANTONYMS else 0.01
        assert found.negatives >= 450, f"{kind}: only {found.negatives} applicable negatives"
        assert found.share(found.casing) <= target, f"{kind}: {found.casing} negatives with more casing anomalies"
        assert found.share(found.new_form) <= target, f"{kind}: new word forms {found.forms}"
    for kind in perturb.CLINICAL_KINDS:  # edits in the reports' own words: none may leak
        found = leaks[kind]
        assert found.negatives >= 50, f"{kind}: only {found.negatives} applicable negatives"
        assert found.casing == 0, f"{kind}: {found.casing} negatives with more casing anomalies"
        assert found.new_form == 0, f"{kind}: new word forms {found.forms}"


def test_both_members_of_every_antonym_pair_occur_in_the_training_reports(openi_split):
    used = vocabulary(openi_split[1])
    assert sorted(w for w in LEXICON if w not in used) == []

"""The blind n-gram language model: NLTK's Kneser–Ney scores, finite scores for unseen words,
and the training split only."""

from __future__ import annotations

import math

import pytest

from pretrain.evaluation.blind_lm import KneserNeyLM, fit_training_lm, prefers, tokenize

CORPUS = [
    "No pleural effusion. No pneumothorax.",
    "Small left pleural effusion.",
    "The heart is normal in size. No pneumothorax.",
    "There is a small right pleural effusion. The heart is enlarged.",
    "No acute disease.",
]
PROBES = ["No pleural effusion.", "Small right pleural effusion. No pneumothorax.", "The heart is small."]


@pytest.mark.parametrize("order", [2, 3])
def test_scores_equal_nltk_kneser_ney_on_seen_words(order):
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
    from nltk.util import ngrams

    ours = KneserNeyLM.fit(CORPUS, order, uniform_floor=False)
    nltk_lm = KneserNeyInterpolated(order)
    nltk_lm.fit(*padded_everygram_pipeline(order, [tokenize(t) for t in CORPUS]))
    for text in PROBES:
        expected = sum(nltk_lm.logscore(g[-1], g[:-1]) for g in ngrams(pad_both_ends(tokenize(text), n=order), order))
        assert ours.logprob(text) == pytest.approx(expected, abs=1e-9)


def test_an_unseen_word_costs_much_but_not_everything():
    lm = KneserNeyLM.fit(CORPUS)
    assert KneserNeyLM.fit(CORPUS, uniform_floor=False).logprob("No hydropneumothorax.") == -math.inf
    seen, unseen = lm.logprob("No pneumothorax."), lm.logprob("No hydropneumothorax.")
    assert math.isfinite(unseen) and unseen < seen
    total = sum(lm.probability(w, ("No",)) for w in lm.vocabulary | {"<UNK>"})
    assert total == pytest.approx(1.0, abs=1e-9)  # still a distribution over the vocabulary


def test_the_model_prefers_the_usual_sentence_and_a_tie_is_wrong():
    lm = KneserNeyLM.fit(CORPUS)
    assert prefers(lm, "No pneumothorax.", "Pneumothorax no.")
    assert not prefers(lm, "No pneumothorax.", "No pneumothorax.")
    assert tokenize("Left-sided effusion,  small.") == ["Left", "-", "sided", "effusion", ",", "small", "."]


def test_order_below_two_is_refused():
    with pytest.raises(ValueError, match="order must be at least 2"):
        KneserNeyLM.fit(CORPUS, 1)


@pytest.mark.openi
def test_the_blind_model_sees_only_the_training_split(openi_reports):
    from pretrain.data.splits import assign_split

    reports = openi_reports
    lm = fit_training_lm()
    train = {w for r in reports if assign_split(r.id) == "train" for w in tokenize(r.text)}
    held_out = {w for r in reports if assign_split(r.id) != "train" for w in tokenize(r.text)} - train
    assert held_out and not held_out & lm.vocabulary
    assert lm.vocabulary - {"<s>", "</s>"} == train

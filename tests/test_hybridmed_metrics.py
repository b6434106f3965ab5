"""Generation metrics (NLTK BLEU, rouge-score ROUGE-L) and the clinical-accuracy figure from the
labels a written impression asserts."""

from __future__ import annotations

import pytest

from pretrain.hybridmed.clinical import clinical_accuracy
from pretrain.hybridmed.generation_metrics import bleu, generation_scores, rouge_l, tokenize
from pretrain.hybridmed.text_labels import ImpressionLabeller


def test_identical_impressions_score_one_and_punctuation_and_case_do_not_count():
    refs = ["No acute cardiopulmonary abnormality.", "Small left pleural effusion."]
    scores = generation_scores(refs, ["no acute cardiopulmonary abnormality", "SMALL LEFT PLEURAL EFFUSION"])
    assert all(scores[k] == pytest.approx(1.0) for k in ("bleu1", "bleu2", "bleu3", "bleu4", "rougeL"))
    assert scores["n"] == 2
    assert tokenize("Heart size: normal.") == ["heart", "size", "normal"]


def test_bleu_and_rouge_l_match_hand_computed_values():
    # one pair, reference "a b c d", hypothesis "a b x d": unigram precision 3/4, bigram 1/3
    # (ab of ab bx xd), no trigram or 4-gram match (smoothed to 0.1/2 and 0.1/1); same length,
    # so no brevity penalty. ROUGE-L: LCS "a b d" = 3 of 4 both ways, F = 0.75.
    scores = bleu(["a b c d"], ["a b x d"])
    assert scores["bleu1"] == pytest.approx(0.75)
    assert scores["bleu2"] == pytest.approx((0.75 * 1 / 3) ** 0.5)
    assert scores["bleu3"] == pytest.approx((0.75 * 1 / 3 * 0.05) ** (1 / 3))
    assert scores["bleu4"] == pytest.approx((0.75 * 1 / 3 * 0.05 * 0.1) ** 0.25)
    assert rouge_l(["a b c d"], ["a b x d"]) == pytest.approx(0.75)
    assert rouge_l(["no acute disease"], ["no disease"]) == pytest.approx(0.8)  # P 1, R 2/3


def test_metrics_refuse_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="references"):
        bleu(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no impressions"):
        rouge_l([], [])
    assert bleu(["no acute disease"], [""])["bleu1"] == 0.0  # an empty generation scores 0, not an error


@pytest.fixture(scope="module")
def labeller():
    return ImpressionLabeller()


def test_labeller_reads_assertion_negation_and_normal(labeller):
    texts = [
        "No pleural effusion or pneumothorax.",
        "Stable cardiomegaly without overt pulmonary edema.",
        "Small right pleural effusions. No pneumothorax.",
        "Left lower lobe opacities, but no effusion.",
        "Subcutaneous emphysema of the neck.",
        "Calcified granulomas. COPD.",
    ]
    assert labeller.headings(texts) == [
        ["normal"],
        ["Cardiomegaly"],
        ["Pleural Effusion"],
        ["Opacity"],
        ["Subcutaneous Emphysema"],  # a finding, but not the emphysema label
        ["Calcified Granuloma", "Pulmonary Disease, Chronic Obstructive"],
    ]
    labels = labeller.label_matrix(texts)
    assert labels["normal"].tolist() == [1, 0, 0, 0, 0, 0]
    assert labels["emphysema"].tolist() == [0, 0, 0, 0, 0, 1]
    assert labels["nodule"].tolist() == [0, 0, 0, 0, 0, 1]


def test_clinical_accuracy_compares_asserted_labels_with_the_tags(labeller):
    texts = ["Cardiomegaly.", "Cardiomegaly and pleural effusion.", "No acute disease."]
    tags = [["Cardiomegaly/mild"], ["Pleural Effusion/right"], ["Pneumothorax"]]
    result = clinical_accuracy(texts, tags, labeller)
    # predicted positives: cardiomegaly ×2, effusion ×1 (normal is left out of the pooled
    # figures); true: cardiomegaly 1, effusion 1, pneumothorax 1 → TP 2 of 3 predicted, 3 true
    assert result["micro"]["precision"] == pytest.approx(2 / 3)
    assert result["micro"]["recall"] == pytest.approx(2 / 3)
    assert result["per_label"]["cardiomegaly"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3),
                                                   "n_positive": 1, "n_predicted": 2}
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert result["n"] == 3
    with pytest.raises(ValueError):
        clinical_accuracy(texts, tags[:2], labeller)


def test_blind_baselines_score_the_commonest_training_impression_and_the_references(labeller):
    from pretrain.hybridmed.baselines import blind_baselines, most_frequent_impression

    train = ["No acute disease.", "Cardiomegaly.", "No acute disease.", "Small effusion."]
    assert most_frequent_impression(train) == "No acute disease."
    result = blind_baselines(train, ["No acute disease.", "Cardiomegaly."], [["normal"], ["Cardiomegaly"]], labeller)
    assert result["constant"]["text"] == "No acute disease." and result["constant"]["rougeL"] == pytest.approx(0.5)
    assert result["constant"]["clinical"]["micro"]["recall"] == 0.0
    assert result["reference"]["clinical"]["micro"]["f1"] == 1.0
    with pytest.raises(ValueError):
        most_frequent_impression(["", " "])

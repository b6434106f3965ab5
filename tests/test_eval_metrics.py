"""Evaluation metrics on hand-built embeddings whose answers are known."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pretrain.evaluation.classification import auroc, linear_probe_report, zero_shot_report
from pretrain.evaluation.labels import LABELS, derive_labels, label_matrix
from pretrain.evaluation.retrieval import chance_recall_at_k, recall_at_k, retrieval_report
from pretrain.evaluation.semantic import (
    CandidateSet,
    ScoredReport,
    embed_candidates,
    make_candidates,
    score_candidates,
    score_text_only,
    semantic_report,
    setting_accuracy,
)


# --- semantic structure -----------------------------------------------------------------------

def test_original_must_score_strictly_highest():
    scored = [
        ScoredReport(0.9, {"a": 0.5, "b": 0.8}),  # wins
        ScoredReport(0.7, {"a": 0.7, "b": 0.1}),  # exact tie with a: wrong
        ScoredReport(0.7, {"a": 0.7 - 1e-9}),  # float-noise tie: wrong
        ScoredReport(0.2, {"b": 0.3}),  # loses
    ]
    result = setting_accuracy(scored, ["a", "b"])
    assert result.accuracy == pytest.approx(1 / 4)
    assert result.chance == pytest.approx((1 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 4)
    assert (result.n, result.n_skipped, result.ties) == (4, 0, 2)


def test_kinds_that_do_not_apply_are_left_out_per_report():
    scored = [ScoredReport(0.5, {"a": 0.1}), ScoredReport(0.5, {"b": 0.9}), ScoredReport(0.5, {})]
    only_a = setting_accuracy(scored, ["a"])
    assert (only_a.accuracy, only_a.chance, only_a.n, only_a.n_skipped) == (1.0, 0.5, 1, 2)
    assert np.isnan(setting_accuracy(scored, ["c"]).accuracy)
    report = semantic_report(scored, ["a", "b"], zero_shot_kinds=["a", "b"], all_nine=["a", "b"])
    assert report["all"]["accuracy"] == 0.5
    assert report["per_kind"]["b"]["accuracy"] == 0.0


def test_the_all_nine_setting_is_exactly_the_papers_nine_whatever_else_is_scored():
    import perturb
    from pretrain.evaluation.runner import EvalOptions
    from pretrain.evaluation.semantic import evaluated_kinds

    kinds = evaluated_kinds(["swap_laterality", "shuffle_all_words", "flip_negation"])
    assert kinds == (*perturb.PAPER_KINDS, "swap_laterality", "flip_negation")
    assert evaluated_kinds(EvalOptions().kinds) == perturb.PAPER_KINDS == tuple(EvalOptions().kinds)
    scored = [ScoredReport(0.5, {"swap_laterality": 0.9, "shuffle_all_words": 0.1})]
    report = semantic_report(scored, kinds)
    assert report["all"]["kinds"] == list(perturb.PAPER_KINDS) and report["all"]["accuracy"] == 1.0
    assert report["per_kind"]["swap_laterality"]["accuracy"] == 0.0 and set(report["per_kind"]) == set(kinds)


def _bag_of_words(texts):
    """Embeds a text by its word counts: blind to order, so it ties every word-preserving
    negative."""
    vocab = sorted({w for t in texts for w in t.lower().split()})
    out = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float)
    return out / np.linalg.norm(out, axis=1, keepdims=True), vocab


def test_a_bag_of_words_model_scores_zero_and_an_order_aware_one_scores_full():
    sets = [
        CandidateSet("r1", "small left effusion", {"k1": "left small effusion", "k2": "effusion small left"}),
        CandidateSet("r2", "heart is enlarged", {"k1": "enlarged is heart"}),
    ]
    texts = [t for s in sets for t in (s.original, *s.negatives.values())]
    bow, vocab = _bag_of_words(texts)
    images = np.stack([bow[0], bow[3]])
    scored = score_candidates(images, sets,
                              embed_candidates(sets, lambda ts: bow[[texts.index(t) for t in ts]]))
    blind = setting_accuracy(scored, ["k1", "k2"])
    assert (blind.accuracy, blind.ties) == (0.0, 2)

    originals = {s.original for s in sets}

    def order_aware(ts):  # original texts get an extra "in order" dimension
        return np.array([[*bow[texts.index(t)], 1.0 if t in originals else 0.0] for t in ts]) / np.sqrt(2)

    images = np.array([[*bow[0], 1.0], [*bow[3], 1.0]]) / np.sqrt(2)
    scored = score_candidates(images, sets, embed_candidates(sets, order_aware))
    assert setting_accuracy(scored, ["k1", "k2"]).accuracy == 1.0


def test_the_text_only_control_scores_every_set_against_one_image():
    # Dimension 0 carries what the image shows, dimension 1 a text-side "fluency" direction. The
    # blank image sees only the fluency direction, so it ranks texts by fluency alone.
    sets = [
        CandidateSet("r1", "effusion on the left", {"k1": "left the on effusion"}),
        CandidateSet("r2", "no effusion", {"k1": "effusion no"}),
    ]
    text_embeddings = np.array([
        [1.0, 0.0],   # r1 original: matches its image, not fluent
        [0.6, 0.8],   # r1 negative
        [0.6, 0.8],   # r2 original: fluent
        [-1.0, 0.0],  # r2 negative
    ])
    assert np.array_equal(embed_candidates(sets, lambda ts: text_embeddings[: len(ts)]), text_embeddings)
    images = np.array([[1.0, 0.0], [0.6, 0.8]])
    real = setting_accuracy(score_candidates(images, sets, text_embeddings), ["k1"])
    assert real.accuracy == 1.0  # each image prefers its own original
    blank = score_text_only(np.array([0.0, 1.0]), sets, text_embeddings)
    assert blank == score_candidates(np.array([[0.0, 1.0], [0.0, 1.0]]), sets, text_embeddings)
    control = setting_accuracy(blank, ["k1"])
    assert (control.accuracy, control.n, control.ties) == (0.5, 2, 0)  # only r2's original is more fluent
    assert score_text_only(np.zeros(2), sets, text_embeddings)[0] == ScoredReport(0.0, {"k1": 0.0})


def test_candidates_are_real_perturbations_and_reproducible(parser):
    report = parser.parse("Small left pleural effusion. The heart is mildly enlarged.")
    kinds = ["shuffle_nouns_and_adj", "shuffle_trigrams", "reverse_sentence"]
    first = make_candidates("id-1", report, kinds, seed=0)
    assert first == make_candidates("id-1", report, kinds, seed=0)
    assert first.original == report.text
    assert first.negatives and all(t != report.text for t in first.negatives.values())
    words = sorted(re.findall(r"\w+", report.text.lower()))
    assert all(sorted(re.findall(r"\w+", t.lower())) == words for t in first.negatives.values())
    one_word = make_candidates("id-2", parser.parse("Normal."), kinds, seed=0)
    assert one_word.negatives == {}


# --- retrieval --------------------------------------------------------------------------------

def test_recall_on_a_permutation():
    perm = np.array([0, 2, 1, 3, 5, 4])  # queries 0 and 3 find their own target first
    sim = np.full((6, 6), 0.0)
    sim[np.arange(6), perm] = 1.0
    sim[np.arange(6), np.arange(6)] = np.where(perm == np.arange(6), 1.0, 0.5)
    recalls = recall_at_k(sim, ks=(1, 2, 6))
    assert recalls == {"R@1": 2 / 6, "R@2": 1.0, "R@6": 1.0}


def test_ties_rank_against_the_query_and_groups_count_as_matches():
    assert recall_at_k(np.ones((4, 4)), ks=(1, 3, 4)) == {"R@1": 0.0, "R@3": 0.0, "R@4": 1.0}
    texts = ["same", "same", "other"]
    sim = np.array([[0.1, 0.9, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    assert recall_at_k(sim, ks=(1,))["R@1"] == 1 / 3
    assert recall_at_k(sim, (1,), texts, texts)["R@1"] == 1.0
    with pytest.raises(ValueError):
        recall_at_k(np.ones((2, 3)))


def test_retrieval_report_has_both_directions_and_chance():
    emb = np.eye(3)
    report = retrieval_report(emb, emb, ["a", "b", "c"], ks=(1, 2))
    assert report["image_to_report"] == report["report_to_image"] == {"R@1": 1.0, "R@2": 1.0}
    assert report["chance"] == pytest.approx({"R@1": 1 / 3, "R@2": 2 / 3}) and report["n"] == 3


def test_chance_recall_matches_random_rankings():
    texts = ["x", "x", "y", "z", "w", "v"]  # two identical reports raise their chance
    exact = chance_recall_at_k((6, 6), (1, 3), texts, texts)
    assert exact["R@1"] == pytest.approx((2 * 2 / 6 + 4 * 1 / 6) / 6)
    rng = np.random.default_rng(0)
    simulated = np.mean([recall_at_k(rng.random((6, 6)), (1, 3), texts, texts)["R@3"] for _ in range(4000)])
    assert simulated == pytest.approx(exact["R@3"], abs=0.02)


# --- labels and classification ----------------------------------------------------------------

def test_labels_from_mesh_headings():
    labels = derive_labels(["Pleural Effusion/left/small", "Cardiomegaly/mild", "Catheters, Indwelling"])
    assert labels["effusion"] == labels["cardiomegaly"] == labels["devices"] == 1
    assert labels["normal"] == labels["atelectasis"] == labels["nodule"] == 0
    assert derive_labels(["normal"])["normal"] == 1
    assert derive_labels(["calcified granuloma/lung/upper lobe/right"])["nodule"] == 1
    assert derive_labels(["Opacity/lung/base"])["opacity"] == 1
    assert derive_labels(["Pleural"]) == dict.fromkeys(LABELS, 0)
    matrix = label_matrix([["normal"], ["Cardiomegaly"], []])
    assert matrix["normal"].tolist() == [1, 0, 0] and matrix["cardiomegaly"].tolist() == [0, 1, 0]


def test_auroc_is_none_for_a_single_class():
    assert auroc(np.array([1, 1, 1]), np.array([0.1, 0.2, 0.3])) is None
    assert auroc(np.array([0, 1]), np.array([0.1, 0.9])) == 1.0
    assert auroc(np.array([0, 1]), np.array([0.9, 0.1])) == 0.0


def test_zero_shot_on_separable_embeddings():
    rng = np.random.default_rng(0)
    positive_dir, negative_dir = np.eye(8)[0], np.eye(8)[1]

    def embed(texts):  # negated prompts point one way, the rest the other
        return np.array([negative_dir if t.lower().startswith(("no ", "there is no", "the heart is normal"))
                         else positive_dir for t in texts])

    y = np.array([1, 0] * 10)
    images = np.where(y[:, None] == 1, positive_dir, negative_dir) + 0.1 * rng.normal(size=(20, 8))
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    labels = {"effusion": y, "cardiomegaly": 1 - y, "pneumothorax": np.zeros(20, int)}
    report = zero_shot_report(images, labels, embed)
    assert report["per_label"]["effusion"]["auroc"] == 1.0
    assert report["per_label"]["cardiomegaly"]["auroc"] == 0.0  # images of the other class
    assert report["per_label"]["pneumothorax"]["auroc"] is None
    assert report["macro_auroc"] == 0.5 and report["n_labels"] == 2


def test_linear_probe_on_separable_features():
    rng = np.random.default_rng(1)

    def split(n):
        y = rng.integers(0, 2, n)
        x = rng.normal(size=(n, 16))
        x[:, 3] += 4.0 * y
        return x, y

    x_train, y_train = split(60)
    x_test, y_test = split(40)
    report = linear_probe_report(
        x_train, {"effusion": y_train, "normal": np.zeros(60, int)},
        x_test, {"effusion": y_test, "normal": rng.integers(0, 2, 40)},
    )
    assert report["per_label"]["effusion"]["auroc"] > 0.95
    assert report["per_label"]["normal"]["auroc"] is None  # one class in training
    assert report["macro_auroc"] == report["per_label"]["effusion"]["auroc"]


# --- explain ----------------------------------------------------------------------------------

def test_word_attention_is_the_attention_of_the_local_loss():
    import torch
    import torch.nn.functional as F

    from pretrain.evaluation.explain import word_attention
    from pretrain.model.losses import _local_scores

    torch.manual_seed(0)
    words = F.normalize(torch.randn(1, 5, 8), dim=-1)
    mask = torch.tensor([[True, True, True, True, False]])
    regions = F.normalize(torch.randn(6, 8), dim=-1)
    attention = word_attention(words, mask, regions, temp1=4.0)[0]
    assert torch.allclose(attention.sum(dim=1), torch.ones(5))
    context = attention @ regions  # each word's attended region feature
    cosine = F.cosine_similarity(words[0], context, dim=-1)[mask[0]]
    by_hand = torch.logsumexp(5.0 * cosine, dim=0)
    in_loss = _local_scores(words, mask, regions[None], (regions @ regions.T)[None], 4.0, 5.0)[0, 0]
    assert torch.allclose(by_hand, in_loss, atol=1e-5)


# --- ablation summary -------------------------------------------------------------------------

def test_mean_std_over_seeds_and_the_markdown_table():
    from pretrain.evaluation.summary import headline, markdown_table, mean_std

    def result(paper: float) -> dict:
        return {"semantic": {"paper": {"accuracy": paper, "chance": 0.2}, "all": {"accuracy": None}},
                "semantic_text_only": {"paper": {"accuracy": paper / 2, "chance": 0.2}},
                "retrieval": {"image_to_report": {"R@1": 0.5}, "chance": {"R@1": 0.1}}}

    runs = {"ours": [headline(result(0.4)), headline(result(0.6))], "clip": [headline(result(0.3))]}
    assert np.isnan(runs["clip"][0]["semantic_all"]) and runs["clip"][0]["chance:probe_auroc"] == 0.5
    summary = mean_std(runs)
    ours = summary["ours"]["semantic_paper"]
    assert (ours["mean"], ours["n"], ours["chance"]) == (pytest.approx(0.5), 2, 0.2)
    assert ours["std"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert np.isnan(summary["clip"]["semantic_paper"]["std"])  # one seed: no spread
    table = markdown_table(summary, {"ours": [0, 1], "clip": [0]}).splitlines()
    assert summary["ours"]["semantic_paper_text_only"]["mean"] == pytest.approx(0.25)
    assert table[0].startswith("| setting | seeds | semantic_paper | semantic_all | "
                               "semantic_paper_text_only | semantic_all_text_only | i2r_R@1 |")
    assert table[2].startswith(
        "| ours | 0,1 | 0.500 ± 0.141 | n/a | 0.250 ± 0.071 | n/a | 0.500 ± 0.000 |")
    assert table[3].startswith("| clip | 0 | 0.300 | n/a | 0.150 | n/a | 0.500 |")
    assert table[4].startswith("| *chance* | | 0.200 | n/a | 0.200 | n/a | 0.100 |")

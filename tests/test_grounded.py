"""Winoground-style 2×2 scores: what passes, what cannot, and their intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pretrain.data.pairs import Pair
from pretrain.evaluation.grounded import CHANCE, PairScores, score_pairs, winoground_report

FAMILIES = ("laterality", "presence", "severity")


def _pairs(n: int) -> list[Pair]:
    return [Pair(f"p{i}", f"img{i}a", f"text {i} a", f"img{i}b", f"text {i} b",
                 FAMILIES[i % len(FAMILIES)], report_id=f"r{i // 2}") for i in range(n)]


def _scores(report: dict) -> list[float]:
    return [report["overall"][name]["score"] for name in ("text", "image", "group")]


values = st.floats(-1e6, 1e6, allow_nan=False)


@given(f=st.dictionaries(st.sampled_from([f"text {i} {s}" for i in range(6) for s in "ab"]),
                         values, min_size=12, max_size=12),
       g=st.dictionaries(st.sampled_from([f"img{i}{s}" for i in range(6) for s in "ab"]),
                         values, min_size=12, max_size=12))
def test_any_score_of_the_form_f_text_plus_g_image_gets_zero_on_all_three(f, g):
    scored = score_pairs(_pairs(6), lambda image, text: f[text] + g[image])
    report = winoground_report(scored, n_boot=50)
    assert _scores(report) == [0.0, 0.0, 0.0]
    assert all(r["group"]["score"] == 0 for r in report["per_family"].values())


def test_a_score_that_matches_image_to_its_own_report_gets_everything():
    match = lambda image, text: float(image[-1] == text[-1])   # noqa: E731
    report = winoground_report(score_pairs(_pairs(6), match), n_boot=50)
    assert _scores(report) == [1.0, 1.0, 1.0]
    assert report["overall"]["text"]["low"] == report["overall"]["text"]["high"] == 1.0
    assert set(report["per_family"]) == set(FAMILIES)
    assert report["overall"]["n"] == 6 and report["overall"]["groups"] == 3


def test_ties_are_wrong():
    constant = PairScores("presence", "r", 0.5, 0.5, 0.5, 0.5)
    assert constant.correct() == {"text": False, "image": False, "group": False}
    almost = PairScores("presence", "r", 1.0, 1.0 - 1e-9, 0.0, 2.0)
    assert almost.correct()["text"] is False and almost.correct()["image"] is True


def test_text_and_image_scores_ask_different_questions():
    # image A prefers report a, image B prefers a too (text score fails), but each report
    # prefers its own image (image score passes)
    scored = PairScores("laterality", "r", aa=0.9, ab=0.1, ba=0.6, bb=0.5)
    assert scored.correct() == {"text": False, "image": True, "group": False}


def test_random_scores_reach_the_chance_levels():
    rng = np.random.default_rng(0)
    scored = [PairScores("f", str(i), *rng.standard_normal(4)) for i in range(20000)]
    report = winoground_report(scored, n_boot=200)["overall"]
    for name in ("text", "image", "group"):
        assert report[name]["chance"] == CHANCE[name]
        assert report[name]["score"] == pytest.approx(CHANCE[name], abs=0.01)
        assert report[name]["low"] < CHANCE[name] < report[name]["high"]


def test_the_bootstrap_resamples_whole_reports():
    # ten reports, each with ten pairs that all pass or all fail: the pairs are not independent,
    # and the interval over reports is far wider than one over 100 independent pairs would be
    scored = [PairScores("f", f"r{r}", *((1, 0, 0, 1) if r % 2 else (0, 1, 1, 0)))
              for r in range(10) for _ in range(10)]
    clustered = winoground_report(scored, n_boot=2000)["overall"]["group"]
    independent = winoground_report([PairScores(s.family, str(i), s.aa, s.ab, s.ba, s.bb)
                                     for i, s in enumerate(scored)], n_boot=2000)
    independent = independent["overall"]["group"]
    assert clustered["score"] == independent["score"] == 0.5
    assert clustered["high"] - clustered["low"] > 2 * (independent["high"] - independent["low"])
    assert winoground_report(scored, n_boot=300, seed=4) == winoground_report(scored, n_boot=300,
                                                                             seed=4)


def test_no_pairs_give_undefined_scores_not_an_error():
    report = winoground_report([])
    assert report["overall"]["n"] == 0 and np.isnan(report["overall"]["text"]["score"])
    assert report["per_family"] == {}


def test_the_plot_shows_each_method_per_family(tmp_path):
    from pretrain.evaluation.plots import plot_grounded

    match = lambda image, text: float(image[-1] == text[-1])   # noqa: E731
    report = winoground_report(score_pairs(_pairs(6), match), n_boot=20)
    blind = winoground_report(score_pairs(_pairs(6), lambda image, text: len(text)), n_boot=20)
    path = plot_grounded({"model": report, "blind": blind}, tmp_path / "grounded.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

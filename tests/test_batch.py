"""The batch path: `apply_batch` / `apply_requests` and batch kernels give what `apply` gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perturb
from perturb.kernels import PackedEdit, register_kernel
from perturb.packed import Pack
from perturb.seeding import KeyHashes, key_hash, stream, stream_word_rows, stream_words
from perturb.testing import check_batch_matches_single, parsed_reports

KINDS = list(perturb.PERTURBATIONS)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    reports=st.lists(parsed_reports(max_tokens=40), min_size=1, max_size=6),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 2**63 - 1),
    scope=st.sampled_from(perturb.SCOPES),
)
def test_batch_results_equal_single_apply_whatever_the_batch(reports, kinds, seed, scope):
    check_batch_matches_single(reports, kinds, seed=seed, scope=scope, draws=2)


@pytest.mark.parametrize("scope", perturb.SCOPES)
def test_batch_equals_single_apply_on_real_reports(real_reports, scope):
    check_batch_matches_single(real_reports, KINDS, seed=5, scope=scope)


@FAST
@given(
    keys=st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=20),
    seed=st.integers(0, 2**64),
    attempt=st.integers(0, 7),
    draw=st.integers(0, 3),
)
def test_stream_words_are_the_generators_raw_outputs(keys, seed, attempt, draw):
    words = stream_words(seed, "a kind", np.full(len(keys), draw), KeyHashes.of(keys), range(attempt, attempt + 1))[0]
    for key, word in zip(keys, words.tolist()):
        generator = stream(seed, key, "a kind", draw)
        for _ in range(attempt):
            generator.bit_generator.random_raw()
        assert word == generator.bit_generator.random_raw()


@FAST
@given(
    keys=st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=8),
    seed=st.integers(0, 2**64),
    streams=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 3)), min_size=1, max_size=5, unique=True),
)
def test_one_pass_over_every_kind_and_draw_gives_each_streams_first_word(keys, seed, streams):
    hashes = KeyHashes.of(keys)
    rows = stream_word_rows(seed, streams, hashes)
    for row, (kind, draw) in zip(rows, streams):
        assert row.tolist() == stream_words(seed, kind, np.full(len(keys), draw), hashes)[0].tolist()


def test_all_redraws_at_once_equal_redrawing_one_attempt_after_another():
    """Two words that differ: a shuffle gives the original half the time, so many keys need
    redraws, several need more than one, and about one in 256 gets the original eight times."""
    report = perturb.ParsedReport(("left", "right"), (" ", ""), ("JJ", "JJ"), ("ADJ", "ADJ"), (0, 0))
    keys = list(range(300))
    batch = [row[0] for row in perturb.apply_batch([report] * len(keys), ["shuffle_all_words"], seed=4, keys=keys)]
    single = [perturb.apply(report, "shuffle_all_words", seed=4, key=key) for key in keys]
    assert batch == single
    # rendered as written: the original starts in lower case, and so does its negative
    assert {result.text for result in batch if result.applicable} == {"right left"}
    assert sum(not result.applicable for result in batch) <= 5


def test_a_user_kernel_may_return_replacements_as_one_mapping_per_report(real_reports):
    @register_kernel(
        "upper_first_word", description="test kernel: the first word becomes its upper case", word_preserving=False
    )
    def upper_first_word(pack, words, scope):
        first = [layout.words[0] if layout.words else None for layout in pack.layouts]
        replacements = [
            {i: layout.report.tokens[i].upper() + "X"} if i is not None else None
            for i, layout in zip(first, pack.layouts)
        ]
        return PackedEdit(pack.identity, replacements, np.array([i is not None for i in first]))

    try:
        check_batch_matches_single(real_reports[:30], ["upper_first_word"], seed=2)
        result = perturb.apply(real_reports[0], "upper_first_word", seed=2)
        assert [r.position for r in result.replacements] == [real_reports[0].layout.words[0]]
    finally:
        del perturb.PERTURBATIONS["upper_first_word"]


def test_requests_with_mixed_kinds_keys_and_draws_equal_single_apply(real_reports):
    requests = [
        perturb.Request(report, KINDS[i % len(KINDS)], f"id{i % 7}", i % 3)
        for i, report in enumerate(real_reports[:60])
    ]
    results = perturb.apply_requests(requests, seed=3)
    for request, result in zip(requests, results):
        assert result == perturb.apply(
            request.report, request.kind, seed=3, key=request.key, draw=request.draw
        )


def test_when_no_draw_can_differ_the_kernel_says_so_before_any_redraw():
    same_words = perturb.ParsedReport(
        tokens=("no", "no", "no", "."), whitespace=(" ", " ", "", ""), tags=("DT",) * 3 + (".",),
        pos=("DET",) * 3 + ("PUNCT",), sent_ids=(0,) * 4,
    )
    spec = perturb.get("shuffle_all_words")
    edit = spec.batch(Pack([same_words]), np.array([1], dtype=np.uint64), "report")
    assert edit.applicable is not None and not edit.applicable[0]
    assert not perturb.apply(same_words, "shuffle_all_words", seed=0).applicable


def test_a_user_kernel_registers_and_runs_in_batch_and_alone(real_reports):
    @register_kernel("rotate_words", description="test kernel: a report's words move one slot on, or stay")
    def rotate_words(pack, words, scope):
        units = pack.units("report")
        index = np.arange(len(units.positions))
        new_report = np.r_[True, units.owner[1:] != units.owner[:-1]] if len(index) else index.astype(bool)
        segment_start = np.flatnonzero(new_report)[np.cumsum(new_report) - 1]
        last = np.r_[new_report[1:], True] if len(index) else new_report
        following = np.where(last, segment_start, index + 1)
        moved = (words % np.uint64(2)).astype(bool)[units.owner]  # the report's own stream decides
        src = pack.identity
        src[units.positions[moved]] = units.positions[following][moved]
        return PackedEdit(src)

    try:
        assert perturb.get("rotate_words").batch is rotate_words
        check_batch_matches_single(real_reports[:40], ["rotate_words"], seed=9)
    finally:
        del perturb.PERTURBATIONS["rotate_words"]


def test_keys_must_match_the_reports():
    report = perturb.ParsedReport(("a",), ("",), ("DT",), ("DET",), (0,))
    with pytest.raises(ValueError, match="2 keys for 1 reports"):
        perturb.apply_batch([report], seed=0, keys=["a", "b"])


def test_key_hashes_are_stable_and_split_into_halves():
    hashes = KeyHashes.of([key_hash("CXR1"), key_hash("CXR2")])
    assert hashes.ints[0] == key_hash("CXR1") != hashes.ints[1]
    assert int(hashes.lo[1]) | (int(hashes.hi[1]) << 64) == hashes.ints[1]


def test_counter_based_shuffles_are_uniform_over_permutations():
    """All 4! − 1 orders of four distinct words come up about equally often over many seeds
    (a fixed chi-square bound, fixed seeds: deterministic)."""
    report = perturb.ParsedReport(
        tokens=("mild", "left", "basal", "atelectasis"), whitespace=(" ", " ", " ", ""),
        tags=("JJ", "JJ", "JJ", "NN"), pos=("ADJ", "ADJ", "ADJ", "NOUN"), sent_ids=(0, 0, 0, 0),
    )
    seeds = range(4600)
    counts: dict[str, int] = {}
    for row in perturb.apply_batch([report] * len(seeds), ["shuffle_all_words"], seed=0, keys=list(seeds)):
        counts[row[0].text] = counts.get(row[0].text, 0) + 1
    assert len(counts) == 23
    expected = len(seeds) / 23
    chi_square = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi_square < 48.3  # the 0.1 % critical value for 22 degrees of freedom


def test_a_batch_result_pickles_the_same_whatever_batch_made_it(real_reports):
    alone = perturb.apply_batch(real_reports[3:4], ["shuffle_all_words"], seed=1)[0][0]
    batched = perturb.apply_batch(real_reports[:20], ["shuffle_all_words"], seed=1)[3][0]
    restored = pickle.loads(pickle.dumps(batched))
    assert restored == batched == alone and restored.tokens == batched.tokens
    assert len(pickle.dumps(batched)) == len(pickle.dumps(alone))

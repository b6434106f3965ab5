"""Textual observations: units from the engine's parse (real spaCy), their spans, the negation
hook, and one flat tokenisation laid back out per report with masks and text keys."""

from __future__ import annotations

import pytest
import torch

from pretrain.place import gather_observations, split_observations, tokenize_observations
from pretrain.place.observations import observation_key

REPORT = ("Heart size normal. No pleural effusion or pneumothorax.\n\n"
          "1. No acute cardiopulmonary disease. 2. Stable left basilar scarring.")


@pytest.fixture(scope="module")
def tokenizer():
    from pretrain.model.encoders import load_tokenizer

    return load_tokenizer("minilm")


def test_units_are_sentences_cut_at_blank_lines_without_list_numbers(parser):
    units = split_observations(parser.parse(REPORT))
    assert [u.text for u in units] == [
        "Heart size normal.",
        "No pleural effusion or pneumothorax.",
        "No acute cardiopulmonary disease.",
        "Stable left basilar scarring.",
    ]
    assert all(u.negated is None for u in units)


def test_units_are_ordered_spans_of_the_rendered_report_holding_a_letter(real_reports):
    for report in real_reports:
        cursor = 0
        for unit in split_observations(report):
            found = report.text.find(unit.text, cursor)
            assert found >= 0, (report.text, unit.text)
            cursor = found + len(unit.text)
            assert unit.text == unit.text.strip() and "\n" not in unit.text
            assert any(ch.isalpha() for ch in unit.text)
            assert set(report.sent_ids[unit.start : unit.stop]) == {unit.sentence}


def test_a_negation_rule_plugs_in_and_marks_each_unit(parser):
    report = parser.parse(REPORT)
    calls = []

    def starts_with_no(r, unit):  # a stand-in: the real rule comes from perturb/clinical/
        calls.append((r, unit.start))
        return r.tokens[unit.start].lower() == "no"

    units = split_observations(report, negated=starts_with_no)
    assert [u.negated for u in units] == [False, True, True, False]
    assert all(r is report for r, _ in calls) and len(calls) == 4


def test_one_flat_tokenisation_laid_out_per_report(parser, tokenizer):
    reports = [parser.parse(t) for t in (REPORT, "The lungs are clear.", "No pneumothorax. The lungs are clear.")]
    marked = [split_observations(r, negated=lambda r, u: r.tokens[u.start].lower() == "no") for r in reports]
    batch = tokenize_observations(tokenizer, marked)
    assert batch["obs_input_ids"].shape[0] == 7  # 4 + 1 + 2 units, no padded texts encoded
    assert batch["obs_slot"].tolist() == [[0, 1, 2, 3], [4, -1, -1, -1], [5, 6, -1, -1]]
    keys = batch["obs_key"]
    assert keys[1, 0] == keys[2, 1] == observation_key("The lungs are clear.")  # same text, same key
    assert len({int(k) for k in keys[batch["obs_slot"] >= 0]}) == 6
    assert batch["obs_negated"].tolist() == [[False, True, True, False], [False] * 4, [True, False, False, False]]
    assert "obs_negated" not in tokenize_observations(tokenizer, [split_observations(r) for r in reports])
    decoded = tokenizer.decode(batch["obs_input_ids"][3], skip_special_tokens=True)
    assert decoded == "stable left basilar scarring."  # MiniLM lower-cases


def test_gather_lays_encoded_units_out_with_a_mask():
    flat = torch.arange(12.0).view(6, 2)
    slot = torch.tensor([[0, 1, 2], [3, -1, -1], [4, 5, -1]])
    laid_out, mask = gather_observations(flat, slot)
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    torch.testing.assert_close(laid_out[mask], flat)
    assert laid_out[~mask].abs().max() == 0


def test_a_batch_without_observations_is_refused(tokenizer):
    with pytest.raises(ValueError, match="no report of the batch"):
        tokenize_observations(tokenizer, [(), ()])

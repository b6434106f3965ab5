"""Negatives that formatting cannot give away: glued tokens move as one written word, and case
belongs to every sentence start (issue 11). Each test builds ParsedReports as spaCy makes them, so
it runs without a parser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import perturb
from perturb.kernels import PackedEdit, register_kernel
from perturb.leaks import casing_anomalies, more_casing_anomalies, word_forms
from perturb.testing import check_batch_matches_single, check_invariants, parsed_reports
from perturb.words import written_words

WORD_ORDER_KINDS = [name for name in perturb.PAPER_KINDS if perturb.get(name).word_preserving]


def report(*rows: tuple[str, str, str], sentences: tuple[int, ...] | None = None) -> perturb.ParsedReport:
    """A ParsedReport from (token, whitespace after it, POS) rows; one parse sentence unless given."""
    tokens, whitespace, pos = zip(*rows)
    return perturb.ParsedReport(tokens, whitespace, pos, pos, sentences or (0,) * len(tokens))


#: "The patient's left-sided effusion cannot be seen. T2/FLAIR and/or x-ray." as spaCy splits it.
GLUED = report(
    ("The", " ", "DET"), ("patient", "", "NOUN"), ("'s", " ", "PART"), ("left", "", "ADJ"), ("-", "", "PUNCT"),
    ("sided", " ", "VERB"), ("effusion", " ", "NOUN"), ("can", "", "AUX"), ("not", " ", "PART"), ("be", " ", "AUX"),
    ("seen", "", "VERB"), (".", " ", "PUNCT"), ("T2", "", "PROPN"), ("/", "", "SYM"), ("FLAIR", " ", "PROPN"),
    ("and/or", " ", "CCONJ"), ("x", "", "NOUN"), ("-", "", "NOUN"), ("ray", "", "NOUN"), (".", "", "PUNCT"),
    sentences=(0,) * 12 + (1,) * 8,
)
#: Findings, a blank line the parser does not treat as a sentence break, and an impression whose
#: first word it tagged PROPN: "No effusion.\n\nNegative chest. XXXX normal. 2 views."
UNMARKED_START = report(
    ("No", " ", "DET"), ("effusion", "", "NOUN"), (".", "", "PUNCT"), ("\n\n", "", "SPACE"),
    ("Negative", " ", "PROPN"), ("chest", "", "NOUN"), (".", " ", "PUNCT"), ("XXXX", " ", "PROPN"),
    ("normal", "", "ADJ"), (".", " ", "PUNCT"), ("2", " ", "NUM"), ("views", "", "NOUN"), (".", "", "PUNCT"),
)


def test_tokens_that_touch_form_one_written_word_and_separators_end_it():
    assert [GLUED.tokens[start:end] for start, _, end in written_words(GLUED.tokens, GLUED.whitespace, GLUED.pos)] == [
        ("The",), ("patient", "'s"), ("left", "-", "sided"), ("effusion",), ("can", "not"), ("be",), ("seen",),
        ("T2", "/", "FLAIR"), ("and/or",), ("x", "-", "ray"),
    ]
    quoted = report(('"', "", "PUNCT"), ("-", "", "PUNCT"), ("5", "", "NUM"), ("%", "", "NOUN"), (")", " ", "PUNCT"),
                    ("-", " ", "PUNCT"), ("ok", "", "ADJ"))
    assert written_words(quoted.tokens, quoted.whitespace, quoted.pos) == [(1, 2, 4), (6, 6, 7)]


@pytest.mark.parametrize("kind", WORD_ORDER_KINDS)
@pytest.mark.parametrize("scope", perturb.SCOPES)
def test_glued_words_move_whole_in_every_word_order_kind(kind, scope):
    original = sorted(word_forms(GLUED.text))
    for seed in range(20):
        result = perturb.apply(GLUED, kind, seed=seed, scope=scope)
        assert sorted(word_forms(result.text)) == original, result.text
        assert "'s" not in result.text.replace("patient's", "").replace("Patient's", "")


def test_a_slot_holds_its_whole_written_word_and_the_glued_tokens_hold_nothing():
    result = perturb.apply(GLUED, "reverse_sentence", seed=0, scope="sentence")
    assert result.text == "Seen be cannot effusion left-sided patient's the. X-ray and/or T2/FLAIR."
    assert len(result.tokens) == len(GLUED.tokens)
    assert result.tokens[:3] == ("Seen", "be", "")
    assert "".join(t + w for t, w in zip(result.tokens, GLUED.whitespace)) == result.text


def test_every_sentence_start_takes_a_capital_whatever_held_it():
    """After the blank line, the slot of "Negative" (tagged PROPN), of the acronym "XXXX" and of
    the digit "2" are sentence starts: whatever lands there is capitalised, and "Negative" is not
    a proper noun, so it is lower case inside a sentence."""
    starts, inside = (0, 4, 7, 10), (1, 5, 8, 11)  # word slots: No effusion Negative chest XXXX normal 2 views
    seen_inside = 0
    for seed in range(30):
        result = perturb.apply(UNMARKED_START, "shuffle_all_words", seed=seed)
        assert not more_casing_anomalies(result.text, UNMARKED_START.text), result.text
        assert all(result.tokens[i][0].isupper() or result.tokens[i][0].isdigit() for i in starts), result.text
        for i in inside:
            if result.source_index[i] == 4:
                assert result.tokens[i] == "negative", result.text
                seen_inside += 1
    assert seen_inside


def test_a_proper_noun_that_the_original_capitalises_inside_a_sentence_keeps_its_case():
    text = report(("Seen", " ", "VERB"), ("by", " ", "ADP"), ("Smith", " ", "PROPN"), ("today", "", "NOUN"),
                  (".", "", "PUNCT"))
    outputs = {perturb.apply(text, "shuffle_all_words", seed=seed).text for seed in range(30)}
    assert "Smith seen by today." in outputs and all("smith" not in t for t in outputs)


def test_an_original_renders_exactly_as_written():
    lower_start = report(("no", " ", "DET"), ("effusion", "", "NOUN"), (".", " ", "PUNCT"), ("approx", "", "ADV"),
                         (".", " ", "PUNCT"), ("lower", " ", "ADJ"), ("lobe", "", "NOUN"))
    for parsed in (GLUED, UNMARKED_START, lower_start):
        assert parsed.text == "".join(t + w for t, w in zip(parsed.tokens, parsed.whitespace))


def test_an_antonym_inside_a_glued_word_keeps_the_rest_of_it():
    results = [perturb.apply(GLUED, "replace_adjectives_with_antonyms", seed=s) for s in range(4)]
    assert {r.text for r in results} == {"The patient's right-sided effusion cannot be seen. T2/FLAIR and/or x-ray."}
    assert results[0].replacements == (perturb.Replacement(3, "left-sided", "right-sided"),)
    check_batch_matches_single([GLUED, UNMARKED_START], ["replace_adjectives_with_antonyms"], seed=0)


def test_a_replacement_rewrites_the_written_word_that_holds_its_token():
    @register_kernel("sided_to_rounded", description="test kernel: a token inside a glued word",
                     word_preserving=False)
    def sided_to_rounded(pack, words, scope):
        mappings = [{i: "rounded" for i, t in enumerate(r.tokens) if t == "sided"} for r in pack.reports]
        return PackedEdit(pack.identity, mappings, np.array([bool(m) for m in mappings]))

    try:
        result = perturb.apply(GLUED, "sided_to_rounded", seed=0)
        assert result.text.startswith("The patient's left-rounded effusion")
        assert result.replacements == (perturb.Replacement(3, "left-sided", "left-rounded"),)
        check_batch_matches_single([GLUED, UNMARKED_START], ["sided_to_rounded"], seed=0)
    finally:
        del perturb.PERTURBATIONS["sided_to_rounded"]


def test_casing_anomalies_count_what_a_reader_sees():
    assert casing_anomalies("No effusion.\n\nnegative chest. Heart Normal.") == (1, 1)
    assert casing_anomalies("FINDINGS: The heart. IMPRESSION: no acute COPD, T2/FLAIR.") == (0, 0)
    assert casing_anomalies("ß starts. Then X-ray mid.") == (0, 1)
    assert word_forms("The patient's left-sided (effusion), T2/FLAIR; 'quoted'") == [
        "the", "patient's", "left-sided", "effusion", "t2/flair", "quoted",
    ]


def test_the_strategy_generates_glued_words_and_sentence_starts_the_parse_does_not_mark():
    seen = {"glued word": 0, "unmarked start": 0, "capitalised PROPN at a start": 0}

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(parsed_reports())
    def count(r):
        layout = r.layout
        seen["glued word"] += bool(layout.glued)
        starts = []  # slots after a break ("." "!" "?" or a line break) that the parse runs on past
        for previous, h in zip(layout.words, layout.words[1:]):
            end = layout.span(previous)[1]
            gap = r.whitespace[end - 1] + "".join(t + w for t, w in zip(r.tokens[end:h], r.whitespace[end:h]))
            if r.sent_ids[previous] == r.sent_ids[h] and any(ch in ".!?\n" for ch in gap):
                starts.append(h)
        seen["unmarked start"] += bool(starts)
        seen["capitalised PROPN at a start"] += any(r.pos[h] == "PROPN" and r.tokens[h][:1].isupper() for h in starts)

    count()
    assert min(seen.values()) >= 10, seen


@pytest.mark.parametrize("kind", WORD_ORDER_KINDS + ["replace_adjectives_with_antonyms"])
def test_the_handmade_reports_keep_every_invariant(kind):
    for parsed in (GLUED, UNMARKED_START):
        for scope in perturb.SCOPES:
            for seed in range(10):
                check_invariants(parsed, perturb.apply(parsed, kind, seed=seed, scope=scope), scope=scope, seed=seed)

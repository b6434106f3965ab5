"""Adjective antonyms in the language of reports: a curated clinical lexicon shipped with the
package, plus WordNet when its data is already installed (it is never downloaded).

A partner no report uses would give its negative away by vocabulary alone, so both members of
every lexicon pair occur in the Open-I training reports, and WordNet may only add partners from the
lexicon's vocabulary list (`data/report_vocabulary.txt`: the words of those reports).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from importlib import resources
from pathlib import Path


def _read_lexicon() -> dict[str, str]:
    pairs: dict[str, str] = {}
    text = resources.files("perturb").joinpath("data/antonyms.tsv").read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"antonyms.tsv:{lineno}: expected two tab-separated words")
        a, b = (w.strip().lower() for w in parts)
        for word, partner in ((a, b), (b, a)):
            if word in pairs:
                raise ValueError(f"antonyms.tsv:{lineno}: {word!r} already has a partner")
            pairs[word] = partner
    return pairs


def _read_vocabulary() -> frozenset[str]:
    text = resources.files("perturb").joinpath("data/report_vocabulary.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


LEXICON: dict[str, str] = _read_lexicon()
#: The words a partner from WordNet must be one of.
VOCABULARY: frozenset[str] = _read_vocabulary()


def _wordnet_data_may_exist() -> bool:
    """Whether WordNet data lies in one of the folders NLTK searches (`nltk.data.path`), checked
    without importing NLTK: importing it pulls in SciPy (over a thousand modules) in every
    DataLoader worker, only to find no data."""
    folders = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    folders += [Path.home() / "nltk_data"]
    folders += [Path(sys.prefix) / sub for sub in ("nltk_data", "share/nltk_data", "lib/nltk_data")]
    folders += [Path(p) for p in ("/usr/share/nltk_data", "/usr/local/share/nltk_data",
                                  "/usr/lib/nltk_data", "/usr/local/lib/nltk_data")]
    return any((f / "corpora" / name).exists() for f in folders for name in ("wordnet", "wordnet.zip"))


@cache
def _wordnet():  # type: ignore[no-untyped-def]
    """NLTK's WordNet reader if NLTK and its data are installed, else None (never downloads)."""
    if not _wordnet_data_may_exist():
        return None
    try:
        import nltk
        from nltk.corpus import wordnet
    except ImportError:
        return None
    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
        except LookupError:
            return None
    return wordnet


@cache
def _wordnet_antonym(word: str) -> str | None:
    wordnet = _wordnet()
    if wordnet is None:
        return None
    found = sorted(
        ant.name()
        for synset in wordnet.synsets(word, pos="a") + wordnet.synsets(word, pos="s")
        for lemma in synset.lemmas()
        if lemma.name().lower() == word
        for ant in lemma.antonyms()
        if ant.name().lower() in VOCABULARY
    )
    return found[0].lower() if found else None


def antonym_of(word: str) -> str | None:
    """The antonym of a lower-case adjective, or None. The lexicon wins over WordNet, whose
    partners must be in `VOCABULARY`."""
    partner = LEXICON.get(word)
    if partner is None and word.isalpha():
        partner = _wordnet_antonym(word)
    return partner

"""The blind baseline: an interpolated Kneser–Ney n-gram language model of report text, no image.

Any image–text score that a language model fitted on the training reports can match without the
image says nothing about the image. `KneserNeyLM.fit(texts)` counts n-grams of the training
split's reports; `logprob` / `logprobs` score any candidate texts (log2 probability, higher is
more report-like); `prefers` says which of an original and its negative the model picks.

It computes NLTK's `nltk.lm.KneserNeyInterpolated` (same discount, padding, continuation counts
and interpolation; `tests/test_blind_lm.py` checks the scores against NLTK's) from plain
dictionaries, because NLTK scores about 150 bigrams a second here — a test split with its
negatives would take half an hour — where this scores a million. One deliberate difference:
NLTK gives a word never seen in training probability 0 (log −∞), so every text with one rare
word would tie with its negatives at −∞; here, as in Chen & Goodman's interpolated Kneser–Ney,
the unigram level is interpolated with a uniform distribution over the vocabulary and one
unknown word (`uniform_floor=False` gives NLTK's scores exactly).

Pure Python, no torch: `pretrain.evaluation` reuses it beside every semantic figure.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PAD_LEFT, PAD_RIGHT, UNKNOWN = "<s>", "</s>", "<UNK>"
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Words and punctuation marks, case kept (a model sees case, so the baseline does too);
    whitespace is not a token."""
    return _TOKEN.findall(text)


@dataclass
class KneserNeyLM:
    """Interpolated Kneser–Ney over word n-grams of order `order` with absolute `discount`."""

    order: int = 2
    discount: float = 0.1
    uniform_floor: bool = True
    #: counts[k][context][word]: raw counts of (k+1)-grams, context a tuple of k words.
    counts: list[dict[tuple[str, ...], Counter]] = field(default_factory=list, repr=False)
    vocabulary: set[str] = field(default_factory=set, repr=False)
    #: Per context length k < order - 1: (context → word → distinct preceding words, context →
    #: distinct (preceding, next) pairs), NLTK's continuation counts.
    _continuation: list[tuple[dict, Counter]] = field(default_factory=list, repr=False)
    #: Per order: context → distinct next words, and context → total count.
    _distinct: list[dict[tuple[str, ...], int]] = field(default_factory=list, repr=False)
    _totals: list[dict[tuple[str, ...], int]] = field(default_factory=list, repr=False)

    @classmethod
    def fit(
        cls, texts: Iterable[str], order: int = 2, discount: float = 0.1, *, uniform_floor: bool = True
    ) -> KneserNeyLM:
        """Count every n-gram (orders 1..`order`) of the padded, tokenized `texts`."""
        if order < 2:
            raise ValueError(f"order must be at least 2 (a bigram model), got {order}")
        lm = cls(order, discount, uniform_floor)
        lm.counts = [defaultdict(Counter) for _ in range(order)]
        for text in texts:
            padded = lm._pad(tokenize(text))
            lm.vocabulary.update(padded)
            for k in range(order):
                table = lm.counts[k]
                for i in range(len(padded) - k):
                    table[tuple(padded[i : i + k])][padded[i + k]] += 1
        lm._prepare()
        return lm

    def _pad(self, words: Sequence[str]) -> list[str]:
        pad = self.order - 1
        return [PAD_LEFT] * pad + list(words) + [PAD_RIGHT] * pad

    def _prepare(self) -> None:
        """Continuation counts for every order below the highest (NLTK's `_continuation_counts`):
        for context c and word w, how many distinct words precede (c, w), and for c how many
        distinct (preceding word, next word) pairs there are."""
        self._continuation = []
        for k in range(self.order - 1):  # context length k, read from the (k+2)-gram counts
            with_word: dict[tuple[str, ...], Counter] = defaultdict(Counter)
            total: Counter = Counter()
            for prefix, following in self.counts[k + 1].items():
                context = prefix[1:]
                total[context] += sum(1 for n in following.values() if n > 0)
                for word, n in following.items():
                    if n > 0:
                        with_word[context][word] += 1
            self._continuation.append((with_word, total))
        self._distinct = [{c: sum(1 for n in f.values() if n > 0) for c, f in table.items()} for table in self.counts]
        self._totals = [{c: sum(f.values()) for c, f in table.items()} for table in self.counts]

    def _lookup(self, word: str) -> str:
        return word if word in self.vocabulary else UNKNOWN

    def probability(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | context), both looked up in the vocabulary (unknown words → `<UNK>`)."""
        context = tuple(self._lookup(w) for w in context)[-(self.order - 1) :]
        return self._score(self._lookup(word), context)

    def _score(self, word: str, context: tuple[str, ...]) -> float:
        k = len(context)
        if k == 0:
            return self._unigram(word)
        table = self.counts[k]
        following = table.get(context)
        if not following:
            return self._score(word, context[1:])
        if k + 1 == self.order:
            count, total = following.get(word, 0), self._totals[k][context]
        else:
            with_word, totals = self._continuation[k]
            count, total = with_word.get(context, {}).get(word, 0), totals.get(context, 0)
        if total == 0:
            return self._score(word, context[1:])
        alpha = max(count - self.discount, 0.0) / total
        gamma = self.discount * self._distinct[k][context] / total
        return alpha + gamma * self._score(word, context[1:])

    def _unigram(self, word: str) -> float:
        with_word, totals = self._continuation[0]
        count, total = with_word.get((), {}).get(word, 0), totals.get((), 0)
        if not self.uniform_floor:
            return count / total
        types = len(with_word.get((), {}))
        uniform = 1.0 / (len(self.vocabulary) + 1)
        return max(count - self.discount, 0.0) / total + self.discount * types / total * uniform

    def logprob(self, text: str) -> float:
        """log2 P(text): the sum over its padded n-grams."""
        padded = self._pad(tokenize(text))
        n = self.order - 1
        out = 0.0
        for i in range(n, len(padded)):
            p = self.probability(padded[i], padded[i - n : i])
            out += math.log2(p) if p > 0 else -math.inf
        return out

    def logprobs(self, texts: Iterable[str]) -> list[float]:
        return [self.logprob(text) for text in texts]


def prefers(lm: KneserNeyLM, original: str, negative: str) -> bool:
    """Whether the model scores the original strictly above the negative (a tie is wrong)."""
    return lm.logprob(original) > lm.logprob(negative)


def fit_training_lm(order: int = 2, *, source: str | None = None, cache_dir: str | None = None) -> KneserNeyLM:
    """The blind model of the project: fitted on the Open-I reports of the training split
    (`pretrain.data.splits`) only. Raises `pretrain.data.openi.OpenIUnavailable` when the reports
    cannot be fetched."""
    from pretrain.data.openi import load_openi
    from pretrain.data.splits import assign_split

    reports = load_openi(source, cache_dir)
    return KneserNeyLM.fit((r.text for r in reports if r.text and assign_split(r.id) == "train"), order)

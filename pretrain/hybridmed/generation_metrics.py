"""Impression-generation scores from libraries: BLEU-1..4 (NLTK's `corpus_bleu`) and ROUGE-L
(`rouge-score`), over one tokenization for both.

Tokens: `rouge-score`'s default tokenizer (lower case, runs of letters and digits; punctuation
dropped), as the captioning evaluations of report generation do. BLEU is corpus-level (n-gram
counts pooled over all impressions, the usual report-generation figure) with one reference per
image and NLTK's smoothing method 1 (ε = 0.1 added to a zero n-gram match count), so that a small
or degenerate test set gives a small number rather than 0 with a warning. ROUGE-L is the mean
over impressions of the LCS F-measure, without stemming.
"""

from __future__ import annotations

from collections.abc import Sequence

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
from rouge_score import rouge_scorer, tokenizers

_TOKENIZER = tokenizers.DefaultTokenizer(use_stemmer=False)
#: BLEU-n weights: uniform over 1..n-grams.
BLEU_WEIGHTS = tuple(tuple(1.0 / n for _ in range(n)) for n in range(1, 5))
SMOOTHING = SmoothingFunction(epsilon=0.1).method1


def tokenize(text: str) -> list[str]:
    """The tokens both metrics compare."""
    return _TOKENIZER.tokenize(text)


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} generated impressions")
    if not references:
        raise ValueError("no impressions to score")


def bleu(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """{'bleu1'..'bleu4'}: corpus BLEU of the generated `hypotheses` against one reference each."""
    _check(references, hypotheses)
    refs = [[tokenize(r)] for r in references]
    hyps = [tokenize(h) for h in hypotheses]
    scores = corpus_bleu(refs, hyps, weights=list(BLEU_WEIGHTS), smoothing_function=SMOOTHING)
    return {f"bleu{n}": float(s) for n, s in enumerate(scores, start=1)}


def rouge_l(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure over the pairs."""
    _check(references, hypotheses)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_TOKENIZER)
    return sum(scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(references, hypotheses)) / len(references)


def generation_scores(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """BLEU-1..4 and ROUGE-L in one dict, with the number of impressions scored."""
    return {**bleu(references, hypotheses), "rougeL": rouge_l(references, hypotheses), "n": float(len(references))}

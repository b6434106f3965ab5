"""What a generated impression's scores must beat, with no image at all: the training split's
most frequent impression written for every test image (BLEU, ROUGE-L, clinical accuracy), and
the ceiling of the clinical figure: the reference impressions themselves, labelled by the same
labeller (Open-I tags also cover the FINDINGS, so the references do not reach 1)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pretrain.hybridmed.clinical import clinical_accuracy
from pretrain.hybridmed.generation_metrics import generation_scores
from pretrain.hybridmed.text_labels import ImpressionLabeller


def most_frequent_impression(train_impressions: Iterable[str]) -> str:
    """The commonest training impression (ties: the one met first)."""
    counts = Counter(t for t in train_impressions if t.strip())
    if not counts:
        raise ValueError("no training impressions")
    return counts.most_common(1)[0][0]


def blind_baselines(
    train_impressions: Iterable[str],
    test_impressions: Sequence[str],
    test_tags: Sequence[Iterable[str]],
    labeller: ImpressionLabeller,
) -> dict:
    """{'constant': {text, generation scores, clinical}, 'reference': {clinical}}."""
    constant = most_frequent_impression(train_impressions)
    guesses = [constant] * len(test_impressions)
    return {
        "constant": {"text": constant, **generation_scores(test_impressions, guesses),
                     "clinical": clinical_accuracy(guesses, test_tags, labeller)},
        "reference": {"clinical": clinical_accuracy(test_impressions, test_tags, labeller)},
    }

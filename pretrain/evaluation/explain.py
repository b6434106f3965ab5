"""Where a model looks in one image, as heatmaps: each word of a report (`explain_pair`), or
each pathology query of PLACE's VPOE (`explain_queries`).

The word attention is the one the local loss uses (GLoRIA): word–region cosine similarities are
softmaxed across the words, scaled by `temp1` and softmaxed across the regions, so the maps show
exactly what the local loss rewarded during training. The query attention is the VPOE's last
cross-attention, and each query is named by the report sentence PCMA's transport plan gives it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perturb.errors import DataError


class ExplainError(DataError):
    """The pair cannot be explained (empty report, unreadable image); one line for the user."""


@dataclass(frozen=True)
class Explanation:
    """The image as the model saw it ([S, S] in 0..1), the report's words (punctuation left out),
    one [S, S] map per word on one 0..1 scale shared by all words (the lowest to the highest weight
    of any word, so that panels compare), and each word's peak weight relative to uniform
    attention (1.0: the word looks everywhere alike)."""

    image: np.ndarray
    words: list[str]
    heatmaps: np.ndarray
    peak_over_uniform: np.ndarray


def word_attention(words, word_mask, regions, temp1: float):
    """Attention [T, W, R] of every word over the regions, for word features words [T, W, D]
    (word_mask [T, W]) and one image's regions [R, D] — the local loss's two softmaxes."""
    import torch

    from pretrain.model.losses import local_attention

    sim = torch.einsum("twd,rd->twr", words.float(), regions.float())
    return local_attention(sim, word_mask, temp1)


def report_words(tokenizer, text: str, max_length: int) -> list[str]:
    """The words behind the tokenizer's word ids (as `tokenize_reports` numbers them): each word
    is the text span from its first sub-word's start to its last one's end."""
    encoded = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
    spans: dict[int, list[int]] = {}
    for word, (start, end) in zip(encoded.word_ids(), encoded["offset_mapping"]):
        if word is None:
            continue
        span = spans.setdefault(word, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    n_words = max(spans, default=-1) + 1
    return [text[spans[w][0] : spans[w][1]] if w in spans else "" for w in range(n_words)]


def _model_input(config, image_path: str | Path, text: str):
    """The image at `image_path` as the model sees it [C, S, S]; a one-line error for an empty
    report or an unreadable image."""
    from pretrain.data.images import ImageError, load_image
    from pretrain.data.transforms import XrayTransform

    if not text.strip():
        raise ExplainError("the report is empty")
    try:
        pixels = load_image(image_path)
    except ImageError as err:
        raise ExplainError(str(err)) from None
    return XrayTransform(config.image_size, False, config.channels)(pixels)


def _explanation(image, labels: list[str], attention) -> Explanation:
    """Maps [K, R] over a square grid of R regions → an `Explanation` on one shared scale."""
    import torch.nn.functional as F

    from pretrain.data.transforms import IMAGE_MEAN, IMAGE_STD

    n_regions = attention.shape[1]
    side = math.isqrt(n_regions)
    if side * side != n_regions:
        raise ExplainError(f"the image encoder gives {n_regions} regions, not a square grid")
    grid = attention.reshape(-1, 1, side, side).float().cpu()
    peak = grid.flatten(1).max(dim=1).values
    low = grid.min()
    scaled = (grid - low) / (peak.max() - low).clamp_min(1e-12)
    maps = F.interpolate(scaled, size=image.shape[-2:], mode="bilinear", align_corners=False)
    shown = image[0] * IMAGE_STD + IMAGE_MEAN
    return Explanation(
        image=shown.clamp(0, 1).cpu().numpy(),
        words=labels,
        heatmaps=maps[:, 0].clamp(0, 1).numpy(),
        peak_over_uniform=(peak * n_regions).numpy(),
    )


def explain_pair(
    model, tokenizer, config, image_path: str | Path, text: str, *, device: str = "cpu"
) -> Explanation:
    """Attention heatmaps of every word of `text` over the image at `image_path`."""
    import torch

    from pretrain.model.text import tokenize_reports

    image = _model_input(config, image_path, text)
    encoded = tokenize_reports(tokenizer, [text], config.max_length)
    with torch.no_grad():
        _, regions = model.encode_image(image[None].to(device))
        inputs = (encoded[k].to(device) for k in ("input_ids", "attention_mask", "word_ids"))
        _, words, word_mask = model.encode_text(*inputs)
        attention = word_attention(words, word_mask, regions[0], config.temp1)[0]  # [W, R]
    names = report_words(tokenizer, text, config.max_length)
    keep = [i for i in torch.nonzero(word_mask[0]).flatten().tolist()
            if i < len(names) and any(ch.isalnum() for ch in names[i])]
    if not keep:
        raise ExplainError("the report has no words")
    return _explanation(image, [names[i] for i in keep], attention[keep])


@dataclass(frozen=True)
class QueryMatch:
    """What PCMA's plan does with one VPOE query's unit of mass: the sentence that gets most of
    it, that share, and the share left in the dustbin (with Q queries and T < Q sentences,
    (Q − T)/Q of all mass goes there, so the dustbin is most queries' largest column)."""

    sentence: str
    mass: float
    dustbin: float


def explain_queries(
    model, tokenizer, config, image_path: str | Path, text: str, *, device: str = "cpu", parse=None
) -> tuple[Explanation, list[QueryMatch]]:
    """Where each pathology query of the model's VPOE looks in the image at `image_path`, and
    the sentence of `text` (its observation units, from the engine's parse; `parse(text)`, by
    default the engine's parser) the transport plan matches it to."""
    import torch

    from pretrain.place.observations import gather_observations, split_observations, tokenize_observations
    from pretrain.place.pcma import observation_plan

    if getattr(model, "vpoe", None) is None:
        raise ExplainError("the model has no VPOE (train it with --pcma to see its pathology queries)")
    image = _model_input(config, image_path, text)
    if parse is None:
        from perturb import Parser

        parse = Parser().parse
    units = split_observations(parse(text))
    if not units:
        raise ExplainError("the report has no observation (a sentence with a word)")
    encoded = tokenize_observations(tokenizer, [units])
    with torch.no_grad():
        _, regions = model.encode_image(image[None].to(device))
        visual = model.vpoe(regions)
        inputs = (encoded[f"obs_{k}"].to(device) for k in ("input_ids", "attention_mask", "word_ids"))
        flat = model.encode_text(*inputs)[0]
        observed, mask = gather_observations(flat, encoded["obs_slot"].to(device))
        plan = observation_plan(torch.einsum("bqd,btd->bqt", visual.embeddings, observed), mask)[0]  # [Q, T + 1]
    mass, column = plan[:, :-1].max(dim=1)
    matches = [QueryMatch(units[t].text, m, d) for t, m, d in zip(column.tolist(), mass.tolist(), plan[:, -1].tolist())]
    labels = [f"query {q}" for q in range(len(matches))]
    return _explanation(image, labels, visual.attention[0]), matches

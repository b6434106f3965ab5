"""Impressions written by a trained model's captioning branch (image → impression), and their
evaluation on a held-out split: BLEU-1..4 and ROUGE-L (`generation_metrics`), the clinical
accuracy of their labels against the image's tags (`clinical`), each beside the blind constant
impression and the references' own ceiling (`baselines`).

Decoding is greedy unless `beam_size` > 1; the length limit is `max_new_tokens`, cut to what
the decoder's positions allow."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from perturb.errors import DataError
from pretrain.hybridmed.decoding import beam_decode, greedy_decode

#: The default length limit: 64 new tokens cover 95 % of Open-I impressions (docs/hybridmed.md).
MAX_NEW_TOKENS = 64


class GenerationError(DataError):
    """The model cannot write impressions (it has no decoder); one line for the user."""


def check_decoder(model, where: str = "the model") -> None:
    if getattr(model, "decoder", None) is None:
        raise GenerationError(f"{where} has no impression decoder: train it with a HybridMED generation term "
                              "(--objective hybridmed, or --lambda-cap/--lambda-sum)")


@torch.no_grad()
def caption_images(
    model, tokenizer, images: torch.Tensor, *, beam_size: int = 1, max_new_tokens: int = MAX_NEW_TOKENS
) -> list[str]:
    """Impressions of images [N, C, H, W] (on the model's device) from the captioning branch."""
    check_decoder(model)
    decoder = model.decoder
    limit = min(max_new_tokens, decoder.max_positions - 1)
    _, regions = model.image_encoder(images)
    if beam_size > 1:
        ids = beam_decode(decoder, "caption", regions, beam_size=beam_size, max_new_tokens=limit)
    else:
        ids = greedy_decode(decoder, "caption", regions, max_new_tokens=limit)
    return [text.strip() for text in tokenizer.batch_decode(ids.cpu(), skip_special_tokens=True)]


def caption_files(
    model, tokenizer, config, paths: Sequence[str | os.PathLike[str]], *, device: str = "cpu", beam_size: int = 1,
    max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 16,
) -> list[dict[str, str]]:
    """`{"image", "impression"}` for each image file, read at the model's training size."""
    from pretrain.data.images import load_image
    from pretrain.data.transforms import XrayTransform

    check_decoder(model)
    transform = XrayTransform(config.image_size, False, config.channels)
    out = []
    for start in range(0, len(paths), batch_size):
        chunk = [Path(p) for p in paths[start : start + batch_size]]
        images = torch.stack([transform(load_image(p)) for p in chunk]).to(device)
        texts = caption_images(model, tokenizer, images, beam_size=beam_size, max_new_tokens=max_new_tokens)
        out += [{"image": str(p), "impression": t} for p, t in zip(chunk, texts)]
    return out


def generation_report(
    model,
    tokenizer,
    dataset,
    train_impressions: Sequence[str],
    *,
    device: str = "cpu",
    batch_size: int = 32,
    beam_size: int = 1,
    max_new_tokens: int = MAX_NEW_TOKENS,
    on_batch: Callable[[int], None] | None = None,
) -> dict:
    """Impressions written for every image of a `ManifestDataset` with a reference impression:
    {'scores' (BLEU-1..4, ROUGE-L), 'clinical', 'blind' (the commonest train impression for
    every image, None without train impressions; the references' clinical ceiling), 'n',
    'skipped_no_impression', 'decoding', 'examples'}."""
    from torch.utils.data import DataLoader

    from pretrain.data import collate_pairs
    from pretrain.hybridmed.baselines import blind_baselines
    from pretrain.hybridmed.clinical import clinical_accuracy
    from pretrain.hybridmed.generation_metrics import generation_scores
    from pretrain.hybridmed.text_labels import ImpressionLabeller

    check_decoder(model)
    ids, written, references, tags, skipped = [], [], [], [], 0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_pairs):
        keep = [i for i, text in enumerate(batch["impression"]) if text.strip()]
        skipped += len(batch["id"]) - len(keep)
        if keep:
            images = batch["image"][keep].to(device)
            written += caption_images(model, tokenizer, images, beam_size=beam_size, max_new_tokens=max_new_tokens)
            ids += [batch["id"][i] for i in keep]
            references += [batch["impression"][i] for i in keep]
            tags += [batch["tags"][i] for i in keep]
        if on_batch is not None:
            on_batch(len(batch["id"]))
    if not references:
        raise GenerationError("no image of the split has a reference impression to score against")
    labeller = ImpressionLabeller()
    has_train = any(text.strip() for text in train_impressions)
    return {
        "scores": generation_scores(references, written),
        "clinical": clinical_accuracy(written, tags, labeller),
        "blind": blind_baselines(train_impressions, references, tags, labeller) if has_train else None,
        "n": len(references),
        "skipped_no_impression": skipped,
        "decoding": {"beam_size": beam_size, "max_new_tokens": max_new_tokens},
        "examples": [{"id": i, "reference": r, "written": w} for i, r, w in list(zip(ids, references, written))[:5]],
    }

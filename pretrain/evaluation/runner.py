"""`evaluate_loaded`: every image–text evaluation of one trained model on one manifest split.

Images are read at the size and channel count the model was trained with (from its saved
config), texts are tokenised as in training, and reports are scored as the perturbation renderer
writes them (as training saw the originals), so the numbers describe the model, not a mismatch
between training and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import perturb
from perturb.errors import DataError
from pretrain.evaluation.classification import linear_probe_report, zero_shot_report
from pretrain.evaluation.labels import label_matrix
from pretrain.evaluation.retrieval import retrieval_report
from pretrain.evaluation.semantic import (
    embed_candidates,
    evaluated_kinds,
    make_candidates,
    parse_reports,
    score_candidates,
    score_text_only,
    semantic_report,
)
from pretrain.progress import Progress


class EvaluationError(DataError):
    """Evaluation cannot run on this input; the message is one line for the user."""


@dataclass(frozen=True)
class EvalOptions:
    split: str = "test"
    #: Split the linear probe is fitted on; None skips the probe.
    probe_split: str | None = "train"
    parse_cache: str | None = None
    #: Kinds scored each alone; the paper's nine are always made (`semantic.evaluated_kinds`).
    kinds: Sequence[str] = perturb.PAPER_KINDS
    seed: int = 0
    batch_size: int = 32
    device: str = "cpu"


def _dataset(manifest: str | Path, split: str, config):
    import warnings

    from pretrain.data import ManifestDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing and unreadable images are counted in the result instead
        return ManifestDataset(manifest, split=split, image_size=config.image_size,
                               channels=config.channels, check_images=True)


def _encode(model, dataset, options: EvalOptions, stage: str, progress: Progress | None):
    from pretrain.evaluation.encode import encode_images

    report = None if progress is None else (lambda n: progress(stage, n, len(dataset)))
    return encode_images(model, dataset, batch_size=options.batch_size, device=options.device,
                         on_batch=report)


def _tracked(embed, stage: str, progress: Progress | None):
    """`embed` reporting its batches to `progress` under `stage`."""
    if progress is None:
        return embed
    return lambda texts: embed(texts, on_batch=lambda n: progress(stage, n, len(texts)))


def evaluate_loaded(
    model,
    tokenizer,
    config,
    manifest: str | Path,
    options: EvalOptions = EvalOptions(),
    progress: Progress | None = None,
) -> dict:
    """Semantic-structure accuracy (and its text-only control: the same scoring with one blank
    image for every report), retrieval, zero-shot and linear-probe classification of a loaded
    model (eval mode, on `options.device`) over `options.split` of `manifest`."""
    from pretrain.evaluation.encode import encode_blank_image, text_embedder

    test_set = _dataset(manifest, options.split, config)
    if len(test_set) < 2:
        raise EvaluationError(
            f"{manifest}: split {options.split!r} has {len(test_set)} usable image(s); need at least 2"
        )
    images = _encode(model, test_set, options, f"encoding {options.split} images", progress)
    embed = text_embedder(model, tokenizer, max_length=config.max_length,
                          batch_size=options.batch_size, device=options.device)

    records = list(zip(images.ids, images.texts))
    parsed, from_cache = parse_reports(records, options.parse_cache)
    kinds = evaluated_kinds(options.kinds)
    sets = [make_candidates(i, p, kinds, seed=options.seed) for i, p in zip(images.ids, parsed)]
    text_embeddings = embed_candidates(
        sets, _tracked(embed, "embedding reports and their perturbations", progress))
    blank = encode_blank_image(model, image_size=config.image_size, channels=config.channels,
                               device=options.device)
    originals = [s.original for s in sets]

    result = {
        "manifest": str(manifest),
        "split": options.split,
        "n_images": len(test_set),
        "missing_images": len(test_set.missing),
        "unreadable_images": len(test_set.unreadable),
        "rejected_rows": len(test_set.rejected),
        "seed": options.seed,
        "parses": {"from_cache": from_cache, "parsed": len(records) - from_cache},
        "semantic": semantic_report(score_candidates(images.embeddings, sets, text_embeddings), kinds),
        "semantic_text_only": semantic_report(score_text_only(blank, sets, text_embeddings), kinds),
        "retrieval": retrieval_report(images.embeddings, embed(originals), originals),
    }
    test_labels = label_matrix(images.tags)
    result["zero_shot"] = zero_shot_report(images.embeddings, test_labels, embed)
    if options.probe_split is not None:
        train_set = _dataset(manifest, options.probe_split, config)
        if len(train_set) == 0:
            result["linear_probe"] = None
        else:
            train = _encode(model, train_set, options, f"encoding {options.probe_split} images", progress)
            result["linear_probe"] = linear_probe_report(
                train.embeddings, label_matrix(train.tags), images.embeddings, test_labels
            )
            result["linear_probe"]["train_split"] = options.probe_split
    result["options"] = {**asdict(options), "kinds": list(options.kinds)}
    return result

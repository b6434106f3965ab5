"""`evaluate_loaded`: every image–text evaluation of one trained model on one manifest split.

Images are read at the size and channel count the model was trained with (from its saved
config), texts are tokenised as in training, and reports are scored as the perturbation renderer
writes them (as training saw the originals), so the numbers describe the model, not a mismatch
between training and evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import perturb
from perturb.errors import DataError
from pretrain.evaluation.blind_lm import KneserNeyLM
from pretrain.evaluation.classification import linear_probe_report, zero_shot_report
from pretrain.evaluation.labels import label_matrix
from pretrain.evaluation.retrieval import retrieval_report
from pretrain.evaluation.semantic import (
    embed_candidates,
    evaluated_kinds,
    make_candidates,
    parse_reports,
    score_candidates,
    score_other_image,
    score_with_lm,
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
    #: A counterfactual pairs file to score 2×2 (`evaluate_pairs_loaded`); None skips it.
    pairs_file: str | None = None
    #: A saved image-only reference CNN (`ceiling.save_ceiling`) scored on the same pairs.
    ceiling: str | None = None
    n_boot: int = 2000


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
    """Semantic-structure accuracy beside its blind baselines (the same candidates scored with
    another patient's image, and by an n-gram language model fitted on the manifest's training
    reports, no image), retrieval, zero-shot and linear-probe classification of a loaded model
    (eval mode, on `options.device`) over `options.split` of `manifest`; with
    `options.pairs_file`, the 2×2 scores of its counterfactual pairs (`evaluate_pairs_loaded`);
    for a model with an impression decoder (HybridMED), impression generation
    (`pretrain.hybridmed.generate`)."""
    from pretrain.evaluation.encode import text_embedder

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
    blind = training_lm(manifest)
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
        "semantic_other_image": semantic_report(
            score_other_image(images.embeddings, sets, text_embeddings, seed=options.seed), kinds),
        "semantic_blind_lm": None if blind is None else semantic_report(score_with_lm(blind, sets), kinds),
        "retrieval": retrieval_report(images.embeddings, embed(originals), originals, tags=images.tags),
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
    if options.pairs_file is not None:
        result["pairs"] = evaluate_pairs_loaded(model, tokenizer, config, options.pairs_file,
                                                options, blind, progress)
    if getattr(model, "decoder", None) is not None:  # HybridMED: impressions written from the images
        result["generation"] = _generation(model, tokenizer, test_set, manifest, options, progress)
    result["options"] = {**asdict(options), "kinds": list(options.kinds)}
    return result


def training_lm(manifest: str | Path, split: str = "train") -> KneserNeyLM | None:
    """The blind baseline: a word-bigram Kneser–Ney model of the reports of `manifest`'s
    training split only (None when the split has no report text)."""
    from pretrain.data.manifest import read_manifest

    texts = [row.text for row in read_manifest(manifest, rejects=[]) if row.split == split and row.text]
    return KneserNeyLM.fit(texts) if texts else None


def evaluate_pairs_loaded(
    model,
    tokenizer,
    config,
    pairs_file: str | Path,
    options: EvalOptions = EvalOptions(),
    blind: KneserNeyLM | None = None,
    progress: Progress | None = None,
) -> dict:
    """Text, image and group scores of the model on the pairs of `pairs_file`
    (`grounded.winoground_report`), beside the blind language model `blind` (if given) and the
    image-only reference CNN saved in `options.ceiling` (if given) on the same pairs. Rows of the
    file that cannot be used are counted with their line numbers."""
    from pretrain.data.pairs import image_path, read_pairs
    from pretrain.evaluation.encode import encode_image_files, text_embedder
    from pretrain.evaluation.grounded import CHANCE, score_pairs, winoground_report

    pairs, rejects = read_pairs(pairs_file)
    if not pairs:
        raise EvaluationError(f"{pairs_file}: no usable pairs ({len(rejects)} rejected rows)")
    images = list(dict.fromkeys(name for p in pairs for name in (p.image_a, p.image_b)))
    texts = list(dict.fromkeys(text for p in pairs for text in (p.text_a, p.text_b)))
    report = None if progress is None else (lambda n: progress("encoding pair images", n, len(images)))
    image_embeddings = encode_image_files(
        model, [image_path(pairs_file, name) for name in images], image_size=config.image_size,
        channels=config.channels, batch_size=options.batch_size, device=options.device,
        on_batch=report)
    embed = text_embedder(model, tokenizer, max_length=config.max_length,
                          batch_size=options.batch_size, device=options.device)
    text_embeddings = _tracked(embed, "embedding pair reports", progress)(texts)
    image_row = {name: i for i, name in enumerate(images)}
    text_row = {text: i for i, text in enumerate(texts)}
    similarity = image_embeddings @ text_embeddings.T

    def model_score(image: str, text: str) -> float:
        return float(similarity[image_row[image], text_row[text]])

    def scores(scored) -> dict:
        return winoground_report(scored, n_boot=options.n_boot, seed=options.seed)

    result = {
        "pairs_file": str(pairs_file),
        "n_pairs": len(pairs),
        "rejected_rows": [str(r) for r in rejects],
        "chance": CHANCE,
        "model": scores(score_pairs(pairs, model_score)),
    }
    if blind is not None:
        logprob = {text: blind.logprob(text) for text in texts}
        result["blind_lm"] = scores(score_pairs(pairs, lambda image, text: logprob[text]))
    if options.ceiling is not None:
        from pretrain.evaluation.ceiling import load_ceiling, score_pairs_file

        result["image_only_reference"] = scores(
            score_pairs_file(load_ceiling(options.ceiling), pairs, pairs_file))
    return result


def _generation(model, tokenizer, test_set, manifest, options: EvalOptions, progress: Progress | None) -> dict:
    from pretrain.data.manifest import read_manifest
    from pretrain.hybridmed.generate import generation_report

    train = [row.impression for row in read_manifest(manifest, rejects=[]) if row.split == "train"]
    stage = f"writing {options.split} impressions"
    report = None if progress is None else (lambda n: progress(stage, n, len(test_set)))
    return generation_report(model, tokenizer, test_set, train, device=options.device,
                             batch_size=options.batch_size, on_batch=report)

"""Can the image side learn at all? A fast lab: the text side frozen and precomputed.

Each report is embedded once by the pretrained all-MiniLM-L6-v2 (optionally cut to its first N
layers), exactly as `TextEncoder` pools it (sum of the last four hidden states, mean over tokens);
only the image encoder, the two projection heads and the temperature are trained, with the
library's `global_loss`, on the phantom train split. A step then costs one image batch, so a
setting is measured in well under a minute on one CPU core and the image-side causes (learning
rate, capacity, image size, temperature, batch size, BatchNorm statistics, augmentation, positives)
can be separated from the text side. Scored on a split (valid by default) with the evaluation's
zero-shot prompts (macro AUROC over labels with >= 10 positives) and image→report recall by tag set.

Usage (from the repo root; the first call caches images and text features under out/lab/):

    python benchmarks/grounding_lab.py -m out/bench/phantoms/manifest.jsonl [--encoder resnet18-narrow]
        [--size 64] [--steps 300] [--batch-size 32] [--lr-image 1e-3] [--lr-heads 1e-3] [--temperature 0.07]
        [--positives pair|text|tags] [--augment] [--bn-batch-stats] [--seed 0] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pretrain.data import ManifestDataset
from pretrain.data.transforms import IMAGE_MEAN, IMAGE_STD, jitter_intensity, random_affine
from pretrain.evaluation.classification import MIN_POSITIVES, auroc
from pretrain.evaluation.labels import LABELS, label_matrix
from pretrain.evaluation.retrieval import chance_recall_at_k, recall_at_k
from pretrain.model.dual_encoder import masked_mean
from pretrain.model.encoders import (ImageEncoder, TextEncoder, build_image_backbone, build_text_backbone,
                                     keep_lower_layers, load_tokenizer)
from pretrain.model.losses import global_loss, logit_scale
from pretrain.model.text import tokenize_reports
from pretrain.train.optim import warmup_cosine
from pretrain.train.terms import group_keys


def _features(manifest: Path, size: int, text_layers: int, split: str, cache: Path) -> dict:
    """Images (evaluation transform) and frozen text features of the train and `split` splits,
    and the prompts' features; cached, since every setting reuses them."""
    if cache.is_file():
        return torch.load(cache)
    tokenizer = load_tokenizer("minilm")
    backbone = build_text_backbone("minilm", tokenizer)
    keep_lower_layers(backbone, text_layers)
    encoder = TextEncoder(backbone, last_layers=4).eval()

    def embed(texts: list[str]) -> torch.Tensor:
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                batch = tokenize_reports(tokenizer, texts[start : start + 64], 128)
                tokens = encoder(batch["input_ids"], batch["attention_mask"])
                chunks.append(masked_mean(tokens, batch["attention_mask"]))
        return torch.cat(chunks)

    data: dict = {}
    for name in ("train", split):
        dataset = ManifestDataset(manifest, split=name, image_size=size, train=False, channels=1)
        data[name] = {"images": torch.stack([dataset[i]["image"] for i in range(len(dataset))]),
                      "text": embed([row.text for row in dataset.rows]),
                      "texts": [row.text for row in dataset.rows], "tags": [list(row.tags) for row in dataset.rows]}
    data["prompts"] = {name: (embed(list(spec.positive)), embed(list(spec.negative))) for name, spec in LABELS.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, cache)
    return data


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The trainer's augmentation (`XrayTransform(train=True)`) on standardised images."""
    out = []
    for image in images:
        raw = image * IMAGE_STD + IMAGE_MEAN
        out.append((jitter_intensity(random_affine(raw, generator), generator).clamp(0, 1) - IMAGE_MEAN) / IMAGE_STD)
    return torch.stack(out)


def run(args: argparse.Namespace) -> dict:
    cache = Path("out/lab") / f"features_{args.split}_{args.size}px_{args.text_layers}layers.pt"
    data = _features(args.manifest, args.size, args.text_layers, args.split, cache)
    torch.manual_seed(args.seed)
    encoder = ImageEncoder(build_image_backbone(args.encoder, image_size=args.size, channels=3))
    image_head = torch.nn.Linear(encoder.global_dim, args.embed_dim)
    text_head = torch.nn.Linear(data["train"]["text"].shape[1], args.embed_dim)
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / args.temperature)))
    heads = [*image_head.parameters(), *text_head.parameters()]
    groups = [{"params": list(encoder.parameters()), "lr": args.lr_image}, {"params": heads, "lr": args.lr_heads}]
    if not args.fixed_temperature:
        groups.append({"params": [log_scale], "lr": args.lr_heads, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(args.steps, int(0.05 * args.steps)))
    train = data["train"]
    n = len(train["texts"])
    keys = {"pair": None, "text": group_keys(train["texts"]),
            "tags": group_keys("\n".join(sorted(set(t))) for t in train["tags"])}[args.positives]
    generator = torch.Generator().manual_seed(args.seed)
    order, position, losses = torch.randperm(n, generator=generator), 0, []
    started = time.perf_counter()
    for _ in range(args.steps):
        if position + args.batch_size > n:
            order, position = torch.randperm(n, generator=generator), 0
        index = order[position : position + args.batch_size]
        position += args.batch_size
        images = train["images"][index]
        if args.augment:
            images = _augment(images, generator)
        encoder.train()
        image_features, _ = encoder(images.expand(-1, 3, -1, -1))
        loss = global_loss(F.normalize(image_head(image_features), dim=-1),
                           F.normalize(text_head(train["text"][index]), dim=-1), log_scale,
                           groups=None if keys is None else keys[index])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*encoder.parameters(), *heads, log_scale], 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - started

    encoder.eval()
    if args.bn_batch_stats:  # score with the batch's own BatchNorm statistics, not the running ones
        for module in encoder.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.train()
    held_out = data[args.split]
    with torch.no_grad():
        images = held_out["images"]
        image_emb = F.normalize(image_head(torch.cat([encoder(images[i : i + 64].expand(-1, 3, -1, -1))[0]
                                                      for i in range(0, len(images), 64)])), dim=-1).numpy()
        text_emb = F.normalize(text_head(held_out["text"]), dim=-1).numpy()

        def prompt(features: torch.Tensor) -> np.ndarray:
            return F.normalize(F.normalize(text_head(features), dim=-1).mean(0), dim=0).numpy()

        labels = label_matrix(held_out["tags"])
        zero_shot = {name: auroc(labels[name], image_emb @ prompt(pos) - image_emb @ prompt(neg))
                     for name, (pos, neg) in data["prompts"].items() if labels[name].sum() >= MIN_POSITIVES}
    tags = [frozenset(t) for t in held_out["tags"]]
    sim = image_emb @ text_emb.T
    return {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "train_seconds": round(seconds, 1),
        "loss_first20": round(float(np.mean(losses[:20])), 3), "loss_last20": round(float(np.mean(losses[-20:])), 3),
        "temperature": round(1 / float(logit_scale(log_scale.detach())), 4),
        "zero_shot_macro_min10": round(float(np.mean(list(zero_shot.values()))), 3),
        "zero_shot": {k: round(v, 3) for k, v in zero_shot.items()},
        "i2r_tag_set": {k: round(v, 3) for k, v in recall_at_k(sim, (1, 5, 10), tags, tags).items()},
        "i2r_tag_set_chance": {k: round(v, 3)
                               for k, v in chance_recall_at_k(sim.shape, (1, 5, 10), tags, tags).items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--manifest", type=Path, required=True)
    ap.add_argument("--split", default="valid")
    ap.add_argument("--encoder", default="resnet18-narrow")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--text-layers", type=int, default=0, help="keep MiniLM's first N layers (0: all six)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr-image", type=float, default=1e-3)
    ap.add_argument("--lr-heads", type=float, default=1e-3)
    ap.add_argument("--temperature", type=float, default=0.07, help="initial temperature")
    ap.add_argument("--fixed-temperature", action="store_true")
    ap.add_argument("--positives", choices=("pair", "text", "tags"), default="pair")
    ap.add_argument("--augment", action="store_true")
    ap.add_argument("--bn-batch-stats", action="store_true")
    ap.add_argument("--embed-dim", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="append the result as a JSON line")
    args = ap.parse_args()
    result = run(args)
    line = json.dumps(result)
    print(line)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()

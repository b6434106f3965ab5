"""Train one configuration with the real trainer and score it on a split, quickly.

`radperturb pretrain` followed by the two grounding figures of `radperturb evaluate` — zero-shot
macro AUROC over labels with >= 10 positives and image→report Recall@k (by exact report and by tag
set, with the random-ranking level) — computed by the same library functions, without the
semantic-structure test and the linear probe (which need the parse of every held-out report and
the training images). Used to compare settings on the valid split; a run folder that already
holds `final/` is only scored.

Usage (from the repo root):

    python benchmarks/grounding_probe.py --out out/probe/NAME [--config configs/bench-cpu.toml]
        [--set key=value ...] [-m out/bench/phantoms/manifest.jsonl] [--split valid] [--log results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np


def _value(text: str):
    """A TOML value (`1e-3`, `"tags"`, `true`), or the text itself."""
    try:
        return tomllib.loads(f"x = {text}")["x"]
    except tomllib.TOMLDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("-m", "--manifest", default="out/bench/phantoms/manifest.jsonl")
    ap.add_argument("--split", default="valid")
    ap.add_argument("--log", type=Path, default=None, help="append the result as a JSON line")
    args = ap.parse_args()

    from pretrain.train.checkpoint import load_for_eval
    from pretrain.train.config import TrainConfig
    from pretrain.data import ManifestDataset
    from pretrain.evaluation.classification import zero_shot_report
    from pretrain.evaluation.encode import encode_images, text_embedder
    from pretrain.evaluation.labels import label_matrix
    from pretrain.evaluation.retrieval import retrieval_report
    from pretrain.train.loop import train

    data = tomllib.loads(args.config.read_text()) if args.config else {}
    for item in args.set:
        key, value = item.split("=", 1)
        data[key] = _value(value)
    config = TrainConfig.from_dict(data)
    config.manifest, config.out_dir, config.device = args.manifest, str(args.out), "cpu"
    started = time.perf_counter()
    if not (args.out / "final").is_dir():
        train(config)
    train_seconds = time.perf_counter() - started

    model, tokenizer, config = load_for_eval(args.out)
    started = time.perf_counter()
    dataset = ManifestDataset(args.manifest, split=args.split, image_size=config.image_size, channels=config.channels)
    images = encode_images(model, dataset)
    embed = text_embedder(model, tokenizer, max_length=config.max_length)
    zero_shot = zero_shot_report(images.embeddings, label_matrix(images.tags), embed)
    retrieval = retrieval_report(images.embeddings, embed(images.texts), images.texts, tags=images.tags)
    rows = [json.loads(line) for line in (args.out / "metrics.jsonl").read_text().splitlines()]
    result = {
        "out": str(args.out), "set": args.set, "config": str(args.config) if args.config else None,
        "split": args.split, "train_s": round(train_seconds, 1), "eval_s": round(time.perf_counter() - started, 1),
        "zero_shot_macro_min10": zero_shot["macro_auroc_min10"],
        "zero_shot": {k: v["auroc"] for k, v in zero_shot["per_label"].items() if k in zero_shot["labels_min10"]},
        "i2r_exact": retrieval["image_to_report"], "i2r_exact_chance": retrieval["chance"],
        "i2r_tag_set": retrieval["tag_set"]["image_to_report"], "i2r_tag_set_chance": retrieval["tag_set"]["chance"],
        "last_log": {k: v for k, v in rows[-1].items() if isinstance(v, float)},
    }
    line = json.dumps(result, default=lambda v: float(v) if isinstance(v, np.floating) else str(v))
    print(line)
    if args.log is not None:
        with args.log.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()

"""Train the image-only reference CNN on a manifest's training split, set its thresholds on the
validation split and score it on the test split's counterfactual pairs
(`pretrain.evaluation.ceiling`).

    OMP_NUM_THREADS=1 python scripts/image_ceiling.py -m phantoms/manifest.jsonl --out out/ceiling

Only the manifest's ids, tags and splits are read: every image is drawn again at `--size`.
Writes OUT/ceiling.pt + ceiling.json (the model, for `load_ceiling`), OUT/ceiling_report.json
and OUT/ceiling.png, and prints the scores per family.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cli.progress import stage_progress
from pretrain.data.manifest import ManifestError, read_manifest
from pretrain.evaluation.ceiling import (
    UNINFORMED, Ceiling, CeilingConfig, calibrate, ceiling_report, load_ceiling, save_ceiling,
    train_ceiling,
)
from pretrain.evaluation.io import write_json
from pretrain.evaluation.plots import plot_grounded


def _train(train: list, valid: list, args: argparse.Namespace) -> tuple[Ceiling, dict]:
    """The CNN trained on `train`, thresholds set on `valid`, and what the training took."""
    config = CeilingConfig(size=args.size, epochs=args.epochs, width=args.width, seed=args.seed)
    started = time.perf_counter()
    losses: list[float] = []
    with stage_progress(args.quiet) as progress:
        def on_epoch(epoch: int, loss: float) -> None:
            losses.append(round(loss, 4))
            progress(f"training on {len(train)} reports", 1, config.epochs, {"loss": loss})

        model = train_ceiling(train, config, on_epoch=on_epoch)
    seconds = round(time.perf_counter() - started, 1)
    return (calibrate(model, config, valid, seed=args.pairs_seed),
            {"epoch_losses": losses, "train_seconds": seconds})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--manifest", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=CeilingConfig.size)
    parser.add_argument("--epochs", type=int, default=CeilingConfig.epochs)
    parser.add_argument("--width", type=int, default=CeilingConfig.width)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--pairs-seed", type=int, default=0,
                        help="seed of the test phantoms (as `data phantoms --seed`)")
    parser.add_argument("--max-additions", type=int, default=2,
                        help="added findings per family and report")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--load", metavar="DIR",
                        help="score the CNN saved in DIR instead of training one")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        rows = read_manifest(args.manifest)
    except ManifestError as err:
        console.print(f"[red]error:[/] {err}")
        return 2
    train = [r for r in rows if r.split == "train"]
    valid = [r for r in rows if r.split == "valid"]
    test = [r for r in rows if r.split == "test"]
    if not train or not test:
        console.print(f"[red]error:[/] {args.manifest}: needs train and test rows "
                      f"(has {len(train)} / {len(test)})")
        return 2
    started = time.perf_counter()
    if args.load:
        ceiling, trained = load_ceiling(args.load), {"loaded_from": args.load}
    else:
        ceiling, trained = _train(train, valid, args)
    report = ceiling_report(ceiling, test, seed=args.pairs_seed,
                            max_additions=args.max_additions, n_boot=args.boot)
    report.update(manifest=str(args.manifest), train_reports=len(train),
                  valid_reports=len(valid), **trained,
                  seconds=round(time.perf_counter() - started, 1),
                  command=" ".join(["scripts/image_ceiling.py", *(argv or sys.argv[1:])]))
    out = Path(args.out)
    if not args.load:
        save_ceiling(ceiling, out)
    write_json(out / "ceiling_report.json", report)
    plot_grounded({"image-only CNN (reference)": report["winoground"]}, out / "ceiling.png",
                  f"Image-only reference, {ceiling.config.size} px, {len(test)} test reports",
                  floors=("classifier that knows nothing", UNINFORMED))
    table = Table(title=f"image-only reference ({report['pairs']} pairs, {len(test)} reports)")
    for column in ("family", "pairs", "text", "image", "group"):
        table.add_column(column)
    winoground = report["winoground"]
    for name, entry in [*winoground["per_family"].items(), ("overall", winoground["overall"])]:
        cells = [f"{entry[s]['score']:.3f} [{entry[s]['low']:.2f}, {entry[s]['high']:.2f}]"
                 for s in ("text", "image", "group")]
        table.add_row(name, str(entry["n"]), *cells)
    table.caption = ("95 % bootstrap over reports; a classifier that knows nothing gets text "
                     "0.25, image 0.50, group 0.25 (random scores: 0.25 / 0.25 / 0.167)")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

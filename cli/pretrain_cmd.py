"""`radperturb pretrain` (image–report pretraining with on-the-fly perturbed negatives) and
`radperturb pretrain-cache` (parse a manifest's reports once, for machines without spaCy).

torch and transformers are imported inside the commands so that `radperturb --help` stays fast.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import app
from cli.common_options import train_settings
from cli.console import print_problems, stderr_console
from cli.errors import UsageError, reported_errors
from cli.paths import check_outputs
from cli.progress import stage_progress

Opt = typer.Option


@app.command("pretrain")
@train_settings()
def pretrain_command(
    manifest: Annotated[Path | None, typer.Argument(
        metavar="MANIFEST", help="Image–report manifest (.jsonl/.csv), e.g. from `radperturb data phantoms`.",
        show_default=False)] = None,
    config_file: Annotated[Path | None, Opt("--config", "-c", metavar="TOML",
                                            help="Settings file; flags given here override it.")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue from the newest checkpoint in the run folder "
                                "(its config.toml is the base config).")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar and no summary.")] = False,
    *,
    overrides: dict[str, Any],
) -> None:
    """Pretrain an image–report model with perturbed-report discrimination.

    L = L_global + α·L_local + β·L_pert, where L_pert makes each image pick its original report among K perturbed versions, drawn afresh every step from the parsed reports.

    Writes DIR/checkpoint-*/ (resumable), DIR/final/ (encoders loadable with plain transformers), metrics.jsonl, loss_curve.png and config.toml. Under torchrun it trains with DDP. SIGTERM (or SIGHUP) writes a checkpoint and exits with status 143 (129); --resume continues exactly.

    [bold]Examples[/bold]

      radperturb pretrain /tmp/phantoms/manifest.jsonl -o runs/demo --image-encoder tiny-resnet --text-encoder tiny-bert --image-size 64 --max-steps 30

      radperturb pretrain data/openi.jsonl -c configs/paper.toml -o runs/paper --workers 8

      torchrun --nproc-per-node 4 -m cli pretrain data/mimic.jsonl -c configs/paper.toml -o runs/mimic

      radperturb pretrain -o runs/paper --resume
    """
    with reported_errors("pretrain"):
        config = _resolve_config(config_file, {"manifest": manifest, **overrides}, resume)
        _check_paths(config)
        started = time.monotonic()
        run = _train(config, resume, quiet)
        if not quiet and os.environ.get("RANK", "0") == "0":
            _summary(run, time.monotonic() - started)


def _resolve_config(config_file: Path | None, flags: dict[str, Any], resume: bool):
    """Flags over --config, else over the run folder's config.toml when resuming, over defaults."""
    from pretrain.train.config import TrainConfig

    try:
        base = TrainConfig()
        if config_file is not None:
            base = TrainConfig.load(config_file)
        elif resume:
            saved = Path(flags.get("out_dir") or base.out_dir) / "config.toml"
            if saved.is_file():
                base = TrainConfig.load(saved)
        return base.with_overrides(flags, where="command line").validate()
    except UnicodeDecodeError:
        raise UsageError(f"{config_file}: not UTF-8 text, not a TOML config") from None


def _check_paths(config) -> None:
    if config.manifest is None:
        raise UsageError("give a MANIFEST (or `manifest = ...` in --config)")
    if not Path(config.manifest).is_file():
        raise UsageError(f"{config.manifest}: no such manifest")
    if config.parse_cache and not Path(config.parse_cache).is_file():
        raise UsageError(f"{config.parse_cache}: no such parse cache")


def _train(config, resume: bool, quiet: bool) -> Path:
    """Run the trainer; a stop signal ends the command with the signal's status."""
    from pretrain.train.loop import TrainingStopped, train

    try:
        with stage_progress(quiet) as progress:
            return train(config, resume=resume, progress=progress)
    except TrainingStopped as err:
        typer.echo(f"radperturb pretrain: {err}", err=True)
        raise typer.Exit(err.exit_code) from None


def _summary(run: Path, seconds: float) -> None:
    import json

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    console = stderr_console()
    if rows:
        first, last = rows[0], rows[-1]
        console.print(f"step {last['step']:,} reached in {seconds:.0f}s: loss {first['loss']:.3f} → {last['loss']:.3f}"
                      + (f", perturbation accuracy {last['pert_acc']:.2f}" if "pert_acc" in last else ""))
    console.print(f"run folder {run}: final/ (encoders), metrics.jsonl, loss_curve.png")


@app.command("pretrain-cache")
def pretrain_cache_command(
    manifest: Annotated[Path, typer.Argument(metavar="MANIFEST", help="Image–report manifest (.jsonl/.csv).",
                                             show_default=False)],
    output: Annotated[Path, Opt("--output", "-o", metavar="FILE", help="Parse cache to write (.jsonl or .jsonl.gz).")],
    split: Annotated[str, Opt("--split", help="Only this split's reports: train, valid, test or all.")] = "all",
    spacy_model: Annotated[str | None, Opt("--model", metavar="MODEL", help="spaCy model (package or path); "
                                           "default: first installed.")] = None,
    n_process: Annotated[int, Opt("--workers", "-w", min=1, help="spaCy processes.")] = 1,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar and no summary.")] = False,
) -> None:
    """Parse a manifest's reports once into a parse cache for `pretrain --parse-cache`.

    With the cache, pretraining and its DataLoader workers never need spaCy (on a GPU machine without it, say).

    [bold]Examples[/bold]

      radperturb pretrain-cache /tmp/phantoms/manifest.jsonl -o /tmp/phantoms/parses.jsonl.gz

      radperturb pretrain-cache data/openi.jsonl -o openi-parses.jsonl.gz --workers 4
    """
    from pretrain.data.manifest import read_manifest
    from pretrain.data.parse_cache import build_parse_cache

    with reported_errors("pretrain-cache"):
        if split not in ("train", "valid", "test", "all"):
            raise UsageError(f"--split must be train, valid, test or all, got {split!r}")
        if not manifest.is_file():
            raise UsageError(f"{manifest}: no such manifest")
        check_outputs({"--output": output}, [manifest])
        rejects: list[str] = []
        rows = [r for r in read_manifest(manifest, rejects=rejects) if split == "all" or r.split == split]
        records = [(r.id, r.text) for r in rows if r.text.strip()]
        unique = len(set(records))
        with stage_progress(quiet) as progress:
            build_parse_cache(records, output, model=spacy_model, n_process=n_process,
                              on_parsed=lambda n: progress("parsing", n, unique))
        if not quiet:
            console = stderr_console()
            console.print(f"wrote {unique:,} parses to {output}")
            print_problems(console, f"rejected rows of {manifest}", rejects)

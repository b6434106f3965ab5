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
from cli.console import print_problems, stderr_console
from cli.errors import UsageError, reported_errors
from cli.paths import check_outputs
from cli.progress import stage_progress

Opt = typer.Option


@app.command("pretrain")
def pretrain_command(
    manifest: Annotated[Path | None, typer.Argument(
        metavar="MANIFEST", help="Image–report manifest (.jsonl/.csv), e.g. from `radperturb data phantoms`.",
        show_default=False)] = None,
    config_file: Annotated[Path | None, Opt("--config", "-c", metavar="TOML",
                                            help="Settings file; flags given here override it.")] = None,
    out_dir: Annotated[Path | None, Opt("--out-dir", "-o", metavar="DIR", help="Run folder. [default: runs/pretrain]")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue from the newest checkpoint in the run folder "
                                "(its config.toml is the base config).")] = False,
    split: Annotated[str | None, Opt("--split", help="Manifest split to train on: train, valid, test or all. [default: train]")] = None,
    parse_cache: Annotated[Path | None, Opt("--parse-cache", metavar="FILE",
                                            help="Parse cache of the manifest's reports (`radperturb pretrain-cache`); "
                                            "default: parse once into the run folder.")] = None,
    image_encoder: Annotated[str | None, Opt("--image-encoder", help="resnet50, vit-base, tiny-resnet, tiny-vit or a "
                                             "local transformers folder. [default: resnet50]")] = None,
    text_encoder: Annotated[str | None, Opt("--text-encoder", help="minilm, bert-base-random, tiny-bert or a local "
                                            "transformers folder. [default: minilm]")] = None,
    tokenizer: Annotated[str | None, Opt("--tokenizer", help="Tokenizer folder for the random text encoders. "
                                         "[default: minilm]")] = None,
    image_size: Annotated[int | None, Opt("--image-size", min=16, help="Image side in pixels. [default: 224]")] = None,
    embed_dim: Annotated[int | None, Opt("--embed-dim", min=1, help="Shared embedding size. [default: 768]")] = None,
    max_length: Annotated[int | None, Opt("--max-length", min=8, help="Tokens per report. [default: 128]")] = None,
    alpha: Annotated[float | None, Opt("--alpha", min=0.0, help="Weight of the local loss. [default: 0.1]")] = None,
    beta: Annotated[float | None, Opt("--beta", min=0.0, help="Weight of the perturbation loss. [default: 0.1]")] = None,
    use_global: Annotated[bool | None, Opt("--global/--no-global", help="Global InfoNCE term. [default: on]",
                                           show_default=False)] = None,
    use_local: Annotated[bool | None, Opt("--local/--no-local", help="GLoRIA local term. [default: on]",
                                          show_default=False)] = None,
    use_pert: Annotated[bool | None, Opt("--pert/--no-pert", help="Perturbation discrimination term. [default: on]",
                                         show_default=False)] = None,
    k_negatives: Annotated[int | None, Opt("--negatives", "-K", min=0, help="Perturbed negatives per report. "
                                           "[default: 9]")] = None,
    kinds: Annotated[str | None, Opt("--kinds", "-k", help="Perturbations to draw from: comma-separated names or "
                                     "'all'. [default: all]")] = None,
    with_replacement: Annotated[bool | None, Opt("--with-replacement/--without-replacement",
                                                 help="Draw kinds with replacement. [default: without]",
                                                 show_default=False)] = None,
    batch_size: Annotated[int | None, Opt("--batch-size", "-b", min=1, help="Pairs per batch (per process). "
                                          "[default: 32]")] = None,
    grad_accum: Annotated[int | None, Opt("--grad-accum", min=1, help="Batches per optimizer step. [default: 1]")] = None,
    lr_encoders: Annotated[float | None, Opt("--lr-encoders", min=0.0, help="Peak learning rate of the encoders. "
                                             "[default: 5e-5]")] = None,
    lr_heads: Annotated[float | None, Opt("--lr-heads", min=0.0, help="Peak learning rate of heads and temperatures. "
                                          "[default: 5e-4]")] = None,
    weight_decay: Annotated[float | None, Opt("--weight-decay", min=0.0, help="AdamW weight decay. [default: 0.01]")] = None,
    warmup_ratio: Annotated[float | None, Opt("--warmup-ratio", min=0.0, max=0.99, help="Share of steps warming up. "
                                              "[default: 0.05]")] = None,
    grad_clip: Annotated[float | None, Opt("--grad-clip", min=0.0, help="Gradient-norm clip, 0 for none. "
                                           "[default: 1.0]")] = None,
    grad_checkpointing: Annotated[bool | None, Opt("--grad-checkpointing/--no-grad-checkpointing",
                                                   help="Recompute activations to save memory. [default: off]",
                                                   show_default=False)] = None,
    compile_model: Annotated[bool | None, Opt("--compile/--no-compile", help="torch.compile the encoders. "
                                              "[default: off]", show_default=False)] = None,
    epochs: Annotated[int | None, Opt("--epochs", min=1, help="Passes over the data. [default: 1]")] = None,
    max_steps: Annotated[int | None, Opt("--max-steps", min=1, help="Optimizer steps (overrides --epochs).")] = None,
    save_every: Annotated[int | None, Opt("--save-every", min=1, help="Checkpoint every N steps. [default: 500]")] = None,
    log_every: Annotated[int | None, Opt("--log-every", min=1, help="Metrics row every N steps. [default: 10]")] = None,
    seed: Annotated[int | None, Opt("--seed", min=0, help="Seed of init, data order and negatives. [default: 0]")] = None,
    workers: Annotated[int | None, Opt("--workers", "-w", min=0, help="DataLoader worker processes. [default: 0]")] = None,
    device: Annotated[str | None, Opt("--device", help="auto, cpu, cuda or cuda:N. [default: auto]")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar and no summary.")] = False,
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
    flags = {
        "manifest": manifest, "out_dir": out_dir, "split": split, "parse_cache": parse_cache,
        "image_encoder": image_encoder, "text_encoder": text_encoder, "tokenizer": tokenizer,
        "image_size": image_size, "embed_dim": embed_dim, "max_length": max_length, "alpha": alpha, "beta": beta,
        "use_global": use_global, "use_local": use_local, "use_pert": use_pert, "k_negatives": k_negatives,
        "kinds": kinds, "with_replacement": with_replacement, "batch_size": batch_size, "grad_accum": grad_accum,
        "lr_encoders": lr_encoders, "lr_heads": lr_heads, "weight_decay": weight_decay,
        "warmup_ratio": warmup_ratio, "grad_clip": grad_clip, "grad_checkpointing": grad_checkpointing,
        "compile": compile_model, "epochs": epochs, "max_steps": max_steps, "save_every": save_every,
        "log_every": log_every, "seed": seed, "num_workers": workers, "device": device,
    }
    with reported_errors("pretrain"):
        config = _resolve_config(config_file, flags, resume)
        _check_paths(config)
        started = time.monotonic()
        run = _train(config, resume, quiet)
        if not quiet and os.environ.get("RANK", "0") == "0":
            _summary(run, time.monotonic() - started)


def _resolve_config(config_file: Path | None, flags: dict[str, Any], resume: bool):
    """Flags over --config, else over the run folder's config.toml when resuming, over defaults."""
    from dataclasses import asdict

    from pretrain.train.config import TrainConfig

    given = {k: str(v) if isinstance(v, Path) else v for k, v in flags.items() if v is not None}
    try:
        base: dict[str, Any] = {}
        if config_file is not None:
            base = asdict(TrainConfig.load(config_file))
        elif resume:
            saved = Path(given.get("out_dir") or TrainConfig().out_dir) / "config.toml"
            if saved.is_file():
                base = asdict(TrainConfig.load(saved))
        return TrainConfig.from_dict({**base, **given}, where="command line").validate()
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

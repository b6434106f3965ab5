"""`train(config)`: pretraining with perturbed negatives drawn afresh at every step.

One optimizer step = `grad_accum` batches. bf16 autocast on GPU, fp32 on CPU; DDP under torchrun
(SyncBatchNorm for BatchNorm backbones). Checkpoints hold everything a resumed run needs to
continue exactly: model, optimizer, scheduler, RNG states and the data position (epoch, step in
epoch), and the data order, negatives and augmentations are functions of (seed, epoch, sample).
SIGTERM saves a checkpoint and stops; a non-finite loss stops before the optimizer applies it,
leaving the last checkpoint as the last good state.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from pretrain.checkpoint import (
    export_final,
    list_checkpoints,
    load_state,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from pretrain.collator import PerturbationCollator
from pretrain.config import ConfigError, TrainConfig
from pretrain.distributed import DistInfo, any_true, init_from_env, is_distributed
from pretrain.loading import SeededItems, epoch_loader
from pretrain.losses import logit_scale
from pretrain.metrics import MetricsLog, WindowMeans, plot_loss_curve
from pretrain.model import build_model
from pretrain.optim import build_optimizer, build_scheduler
from pretrain.parse_cache import build_parse_cache, check_parse_cache, missing_records
from pretrain.step import clip_and_read, forward_backward
from perturb.cache import ParseCache

#: Settings a resumed run must share with its checkpoint (weights and data position depend on them).
RESUME_INVARIANTS = ("image_encoder", "text_encoder", "tokenizer", "embed_dim", "text_layers", "text_last_layers",
                     "channels", "batch_size", "grad_accum", "seed", "manifest", "split")


class TrainingStopped(Exception):
    """SIGTERM: a checkpoint was written and training stopped; `--resume` continues."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"stopped by SIGTERM after step {step}; checkpoint {checkpoint} (continue with --resume)")
        self.step, self.checkpoint = step, checkpoint


class TrainDataError(ValueError):
    """Training data that cannot be used (unreadable manifest, too few pairs)."""


class NonFiniteLoss(RuntimeError):
    """The loss or gradient became NaN/inf; the update was not applied."""


def resolve_device(name: str, info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but no CUDA GPU is available")
        device = torch.device(f"cuda:{info.local_rank}" if name == "cuda" else name)
        torch.cuda.set_device(device)
        return device
    if name != "cpu":
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def sigterm_flag() -> Iterator[threading.Event]:
    """An event set by SIGTERM while the block runs (the previous handler is restored after)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: event.set())
    try:
        yield event
    finally:
        signal.signal(signal.SIGTERM, previous)


def _progress(quiet: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TextColumn("{task.fields[rate]:,.1f} samples/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )


def _loss_text(means: dict[str, float]) -> str:
    names = {"loss": "loss", "global": "glob", "local": "loc", "pert": "pert", "pert_acc": "acc"}
    return " ".join(f"{short} {means[key]:.3f}" for key, short in names.items() if key in means)


class _Run:
    """One training run's state; `fit` drives it."""

    def __init__(self, config: TrainConfig, info: DistInfo, device: torch.device, quiet: bool) -> None:
        from pretrain.data import ManifestDataset
        from pretrain.data.manifest import ManifestError

        self.config, self.info, self.device, self.quiet = config, info, device, quiet
        self.run_dir = Path(config.out_dir)
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        seed_everything(config.seed)
        try:
            self.dataset = ManifestDataset(config.manifest, split=config.dataset_split, image_size=config.image_size,
                                           train=config.augment, channels=config.channels)
        except (ManifestError, FileNotFoundError) as err:
            raise TrainDataError(f"cannot read the manifest: {err}") from None
        needed = config.batch_size * info.world_size * config.grad_accum
        if len(self.dataset) < needed:
            raise TrainDataError(f"{config.manifest} (split {config.split}) has {len(self.dataset)} usable pairs; "
                              f"one optimizer step needs {needed}")
        self.cache_path = self._parse_cache()
        self.model, self.tokenizer = build_model(self.config)
        self.collator = PerturbationCollator(
            self.tokenizer, k_negatives=config.negatives, kinds=config.kinds, seed=config.seed,
            max_length=config.max_length, with_replacement=config.with_replacement, scope=config.scope,
            parse_cache=self.cache_path, pad_to_multiple_of=8 if device.type == "cuda" else None)
        first = self.dataset.rows[0]
        self.collator.warm_up(first.id, first.text)
        self.items = SeededItems(self.dataset, config.seed)
        self.sampler = DistributedSampler(self.dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                          seed=config.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // config.batch_size // config.grad_accum
        self.total_steps = config.max_steps or config.epochs * self.steps_per_epoch
        self._prepare_model()
        self.optimizer = build_optimizer(self.raw, config, device)
        self.scheduler = build_scheduler(self.optimizer, config, self.total_steps)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.step = self.epoch = self.step_in_epoch = 0

    # --- set-up ---------------------------------------------------------------------------

    def _parse_cache(self) -> Path:
        """The given cache (checked to cover every pair) or one built in the run folder."""
        records = [(row.id, row.text) for row in self.dataset.rows]
        if self.config.parse_cache:
            check_parse_cache(self.config.parse_cache, records)
            return Path(self.config.parse_cache)
        path = self.run_dir / "parses.jsonl.gz"
        if self.info.is_main and (not path.is_file() or missing_records(ParseCache.load(path), records)):
            with _progress(self.quiet) as progress:
                task = progress.add_task("parsing reports", total=len(set(records)), losses="", rate=0.0)
                build_parse_cache(records, path, on_parsed=lambda n: progress.advance(task, n))
        if is_distributed():
            torch.distributed.barrier()
        return path

    def _prepare_model(self) -> None:
        config, model = self.config, self.model
        if config.grad_checkpointing:
            model.image_encoder.enable_gradient_checkpointing()
            model.text_encoder.enable_gradient_checkpointing()
        model.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers outside autocast
            model.image_encoder.to(memory_format=torch.channels_last)
        self.raw = model
        if config.compile:
            model.image_encoder.compile()
            model.text_encoder.compile()
        if is_distributed():
            has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
            if has_bn and self.device.type == "cuda":  # SyncBatchNorm is GPU-only; CPU ranks keep local BN
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
                self.raw = model
            every_term = config.use_global and config.use_local and config.use_pert
            model = DistributedDataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None,
                                            find_unused_parameters=not every_term)
        self.model = model

    def _resume(self) -> None:
        checkpoints = list_checkpoints(self.run_dir)
        if not checkpoints:
            raise ConfigError(f"nothing to resume: {self.run_dir} has no checkpoint")
        state = load_state(checkpoints[-1])
        saved = TrainConfig.from_dict(state["config"])
        for name in RESUME_INVARIANTS:
            if getattr(saved, name) != getattr(self.config, name):
                raise ConfigError(f"cannot resume with a different {name} "
                                  f"(checkpoint: {getattr(saved, name)!r}, now: {getattr(self.config, name)!r})")
        if state["world_size"] != self.info.world_size:
            raise ConfigError(f"cannot resume on {self.info.world_size} processes a run made on {state['world_size']}")
        self.raw.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.step_in_epoch = state["step"], state["epoch"], state["step_in_epoch"]
        restore_rng_state(state["rng"][self.info.rank])
        if self.info.is_main:
            self.metrics.truncate_after(self.step)

    def _save(self) -> Path:
        """Every rank's RNG state goes into rank 0's checkpoint."""
        states = [rng_state()]
        if is_distributed():
            states = [None] * self.info.world_size
            torch.distributed.all_gather_object(states, rng_state())
        path = self.run_dir
        if self.info.is_main:
            from dataclasses import asdict

            state = {"model": self.raw.state_dict(), "optimizer": self.optimizer.state_dict(),
                     "scheduler": self.scheduler.state_dict(), "rng": states, "step": self.step,
                     "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                     "world_size": self.info.world_size, "config": asdict(self.config)}
            path = save_checkpoint(self.run_dir, self.step, state, self.config, self.config.keep_checkpoints)
        if is_distributed():
            torch.distributed.barrier()
        return path

    # --- training -------------------------------------------------------------------------

    def _optimizer_step(self, batches: Iterator[dict]) -> tuple[dict[str, float], float]:
        """One optimizer step over `grad_accum` batches: (metrics, seconds spent waiting for data).
        A non-finite loss or gradient raises before the update is applied."""
        sums, waited = forward_backward(self.model, self.raw, batches, self.config, self.device)
        values = clip_and_read(self.raw, sums, self.config.grad_clip)
        if not all(math.isfinite(v) for v in values.values()):  # the same on every rank
            last = list_checkpoints(self.run_dir)
            keep = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
            shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            raise NonFiniteLoss(f"non-finite loss or gradient at step {self.step + 1} ({shown}); the update was "
                                f"not applied and {keep} (try a lower learning rate)")
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return values, waited

    def _log_row(self, window: dict[str, float], epoch: int, elapsed: float) -> dict[str, float]:
        lrs = {f"lr_{group['name']}": group["lr"] for group in self.optimizer.param_groups}
        return {"step": self.step, "epoch": epoch, **window, **lrs,
                "temp_global": 1 / float(logit_scale(self.raw.log_scale_global.detach())),
                "temp_pert": 1 / float(logit_scale(self.raw.log_scale_pert.detach())),
                "time": round(elapsed, 3)}

    def fit(self, resume: bool) -> Path:
        config = self.config
        if resume:
            self._resume()
        elif list_checkpoints(self.run_dir):
            raise ConfigError(f"{self.run_dir} already holds checkpoints: pass --resume to continue it "
                              "or choose another output folder")
        elif self.info.is_main:
            self.metrics.truncate_after(-1)
        if self.info.is_main:
            config.save(self.run_dir / "config.toml")
        samples_per_step = config.batch_size * config.grad_accum * self.info.world_size
        window = WindowMeans()
        started = time.perf_counter()
        with sigterm_flag() as sigterm, _progress(self.quiet or not self.info.is_main) as progress:
            task = progress.add_task("pretraining", total=self.total_steps, completed=self.step, losses="", rate=0.0)
            while self.step < self.total_steps:
                loader = epoch_loader(self.items, self.sampler, self.collator, config, self.epoch,
                                      self.step_in_epoch * config.grad_accum, pin_memory=self.device.type == "cuda")
                batches = iter(loader)
                while self.step < self.total_steps and self.step_in_epoch < self.steps_per_epoch:
                    step_started = time.perf_counter()
                    values, waited = self._optimizer_step(batches)
                    seconds = time.perf_counter() - step_started
                    epoch_of_step = self.epoch
                    self.step += 1
                    self.step_in_epoch += 1
                    if self.step_in_epoch == self.steps_per_epoch:
                        self.epoch, self.step_in_epoch = self.epoch + 1, 0
                    window.add({**values, "samples_per_s": samples_per_step / seconds, "data_wait": waited / seconds})
                    means = window.means()
                    progress.update(task, completed=self.step, losses=_loss_text(means), rate=means["samples_per_s"])
                    if self.info.is_main and (self.step % config.log_every == 0 or self.step == self.total_steps):
                        self.metrics.append(self._log_row(window.pop(), epoch_of_step, time.perf_counter() - started))
                    stop = any_true(sigterm.is_set(), self.device)
                    if stop or self.step % config.save_every == 0 or self.step == self.total_steps:
                        path = self._save()
                    if stop:
                        raise TrainingStopped(self.step, path)
                    if self.step_in_epoch == 0:
                        break
                del batches
        if self.info.is_main:
            export_final(self.run_dir, self.raw, self.tokenizer, config)
            plot_loss_curve(self.metrics.rows(), self.run_dir / "loss_curve.png", title=self.run_dir.name)
        return self.run_dir


def train(config: TrainConfig, *, resume: bool = False, quiet: bool = False) -> Path:
    """Run (or with `resume`, continue) pretraining; returns the run folder."""
    config.validate()
    if not config.manifest:
        raise ConfigError("no training data: give a manifest")
    info = init_from_env("cuda" if config.device != "cpu" and torch.cuda.is_available() else "cpu")
    device = resolve_device(config.device, info)
    return _Run(config, info, device, quiet).fit(resume)

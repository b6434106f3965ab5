"""`train(config)`: pretraining with perturbed negatives drawn afresh at every step.

The run: the manifest's pairs and their parses → the collator's batches (`loader`, `collator`)
→ the objective, the model and the loss terms the config turns on (`objective`, `terms`) → one
optimizer step per `grad_accum` batches (`step`) → metrics, checkpoints and the final export.
bf16 autocast on GPU, fp32 on CPU; DDP under torchrun (SyncBatchNorm for BatchNorm backbones).
Checkpoints hold everything a resumed run needs to continue exactly: model, loss terms,
optimizer, scheduler, RNG states and the data position (epoch, step in epoch), and the data
order, negatives and augmentations are functions of (seed, epoch, sample). SIGTERM (or SIGHUP)
saves a checkpoint and stops; a non-finite loss stops before the optimizer applies it, leaving the
last checkpoint as the last good state.
"""

from __future__ import annotations

import math
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from perturb.atomic import remove_stale
from perturb.cache import ParseCache
from perturb.errors import DataError
from pretrain.data.parse_cache import build_parse_cache, check_parse_cache, missing_records
from pretrain.device import resolve_device
from pretrain.model.dual_encoder import PretrainModel, build_model
from pretrain.progress import Progress, silent
from pretrain.train.checkpoint import (
    CheckpointError,
    export_final,
    list_checkpoints,
    load_state,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    split_state,
)
from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import ConfigError, TrainConfig
from pretrain.train.distributed import DistInfo, any_true, init_from_env, is_distributed
from pretrain.train.loader import SeededItems, epoch_loader
from pretrain.train.metrics import MetricsLog, WindowMeans, plot_loss_curve
from pretrain.train.objective import Objective
from pretrain.train.optim import build_optimizer, build_scheduler
from pretrain.train.step import clip_and_read, forward_backward
from pretrain.train.stop import StopRequest, stop_requests
from pretrain.train.terms import TERMS, LossTerm, build_terms

#: Settings a resumed run must share with its checkpoint (weights and data position depend on them).
RESUME_INVARIANTS = ("image_encoder", "text_encoder", "tokenizer", "embed_dim", "text_last_layers", "channels",
                     "batch_size", "grad_accum", "seed", "manifest", "split")


class TrainingStopped(Exception):
    """SIGTERM or SIGHUP: a checkpoint was written and training stopped; `--resume` continues."""

    def __init__(self, step: int, checkpoint: Path, signum: int = signal.SIGTERM) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} after step {step}; checkpoint {checkpoint} (continue with --resume)")
        self.step, self.checkpoint, self.exit_code = step, checkpoint, 128 + signum


class TrainDataError(DataError):
    """Training data that cannot be used (unreadable manifest, too few pairs)."""


class NonFiniteLoss(DataError):
    """The loss or gradient became NaN/inf; the update was not applied."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: Figures of each step that are logged but not shown beside the progress bar.
UNSHOWN = ("grad_norm", "samples_per_s", "data_wait")


class _Run:
    """One training run's state; `fit` drives it."""

    def __init__(self, config: TrainConfig, info: DistInfo, device: torch.device, progress: Progress) -> None:
        from pretrain.data import ManifestDataset
        from pretrain.data.manifest import ManifestError

        self.config, self.info, self.device = config, info, device
        self.progress = progress if info.is_main else silent  # one rank reports
        self.run_dir = Path(config.out_dir)
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            remove_stale(self.run_dir)  # staging folders and temporary files of a killed run
        seed_everything(config.seed)
        try:
            self.dataset = ManifestDataset(config.manifest, split=config.dataset_split, image_size=config.image_size,
                                           train=True, channels=config.channels)
        except (ManifestError, FileNotFoundError) as err:
            raise TrainDataError(f"cannot read the manifest: {err}") from None
        needed = config.batch_size * info.world_size * config.grad_accum
        if len(self.dataset) < needed:
            left_out = self.dataset.rejected
            why = f" ({len(left_out)} bad rows left out, first: {left_out[0]})" if left_out else ""
            raise TrainDataError(f"{config.manifest} (split {config.split}) has {len(self.dataset)} usable pairs"
                                 f"{why}; one optimizer step needs {needed}")
        parses = ParseCache.load(self._parse_cache())
        model, self.tokenizer = build_model(self.config)
        terms = build_terms(config)
        self.collator = PerturbationCollator(
            self.tokenizer, parses.get, k_negatives=config.negatives, kinds=config.kinds, seed=config.seed,
            max_length=config.max_length, with_replacement=config.with_replacement, scope=config.scope,
            pad_to_multiple_of=8 if device.type == "cuda" else None,
            parts=list(dict.fromkeys(term.collate for term in terms if term.collate is not None)))  # one each
        first = self.dataset.rows[0]
        self.collator.warm_up(first.id, first.text)
        self.items = SeededItems(self.dataset, config.seed)
        self.sampler = DistributedSampler(self.dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                          seed=config.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // config.batch_size // config.grad_accum
        self.total_steps = config.max_steps or config.epochs * self.steps_per_epoch
        self._prepare_model(model, terms)
        self.optimizer = build_optimizer(self.objective, config, device)
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
            total = len(set(records))
            build_parse_cache(records, path, on_parsed=lambda n: self.progress("parsing reports", n, total))
        if is_distributed():
            torch.distributed.barrier()
        return path

    def _prepare_model(self, model: PretrainModel, terms: list[LossTerm]) -> None:
        config = self.config
        if config.grad_checkpointing:
            model.image_encoder.enable_gradient_checkpointing()
            model.text_encoder.enable_gradient_checkpointing()
        model.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers outside autocast
            model.image_encoder.to(memory_format=torch.channels_last)
        if config.compile:
            model.image_encoder.compile()
            model.text_encoder.compile()
        self.model = model  # the bare model: exports and checkpoints use it
        self.objective = Objective(model, terms).to(self.device)  # the optimizer trains it
        self.step_module = wrap_for_ranks(self.objective, self.device)  # what each step calls

    def _resume(self) -> None:
        checkpoints = list_checkpoints(self.run_dir)
        if not checkpoints:
            raise ConfigError(f"nothing to resume: {self.run_dir} has no checkpoint")
        state = None
        for checkpoint in reversed(checkpoints):  # the newest that loads (a later one may be damaged)
            try:
                state = load_state(checkpoint)
                break
            except CheckpointError as err:
                if self.info.is_main:
                    print(f"radperturb pretrain: warning: {err}; trying the checkpoint before it",
                          file=sys.stderr, flush=True)
        if state is None:
            raise ConfigError(f"{self.run_dir}: none of its {len(checkpoints)} checkpoints can be loaded")
        saved = TrainConfig.from_dict(state["config"])
        for name in RESUME_INVARIANTS:
            if getattr(saved, name) != getattr(self.config, name):
                raise ConfigError(f"cannot resume with a different {name} "
                                  f"(checkpoint: {getattr(saved, name)!r}, now: {getattr(self.config, name)!r})")
        if state["world_size"] != self.info.world_size:
            raise ConfigError(f"cannot resume on {self.info.world_size} processes a run made on {state['world_size']}")
        try:
            model_state, term_state = split_state(state)
            self.model.load_state_dict(model_state)
            # a term switched on since starts afresh; one switched off is not built, its state unused
            self.objective.terms.load_state_dict(term_state, strict=False)
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step, self.epoch, self.step_in_epoch = state["step"], state["epoch"], state["step_in_epoch"]
            restore_rng_state(state["rng"][self.info.rank])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            raise ConfigError(f"{checkpoint}: does not fit this run ({type(err).__name__}: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else ''})") from None
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

            state = {"model": self.model.state_dict(), "terms": self.objective.terms.state_dict(),
                     "optimizer": self.optimizer.state_dict(),
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
        sums, waited = forward_backward(self.step_module, batches, self.config, self.device)
        values = clip_and_read(self.objective, sums, self.config.grad_clip)
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
        return {"step": self.step, "epoch": epoch, **window, **lrs, **self.objective.logged(),
                "time": round(elapsed, 3)}

    def fit(self, resume: bool, stop: StopRequest | None = None) -> Path:
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
        with stop_requests(stop) as sigterm:
            self.progress("pretraining", self.step, self.total_steps)
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
                    shown = {k: v for k, v in means.items() if k not in UNSHOWN}
                    self.progress("pretraining", 1, self.total_steps, {**shown, "samples/s": means["samples_per_s"]})
                    if self.info.is_main and (self.step % config.log_every == 0 or self.step == self.total_steps):
                        self.metrics.append(self._log_row(window.pop(), epoch_of_step, time.perf_counter() - started))
                    stopping = any_true(sigterm.is_set(), self.device)
                    if stopping or self.step % config.save_every == 0 or self.step == self.total_steps:
                        path = self._save()
                    if stopping:
                        raise TrainingStopped(self.step, path, sigterm.signum)
                    if self.step_in_epoch == 0:
                        break
                del batches
        if self.info.is_main:
            export_final(self.run_dir, self.objective, self.tokenizer, config)
            terms = self.objective.terms.values()
            plot_loss_curve(self.metrics.rows(), self.run_dir / "loss_curve.png", [term.name for term in terms],
                            [metric for term in terms for metric in term.metrics], title=self.run_dir.name)
        return self.run_dir


def wrap_for_ranks(objective: Objective, device: torch.device) -> torch.nn.Module:
    """What a training step calls: `objective` itself, or under torch.distributed the objective
    in DDP (SyncBatchNorm for BatchNorm backbones on GPU). Its inactive terms' parameters are
    frozen, so DDP holds none that go without a gradient; `find_unused_parameters` stays on when
    a registered term is off, in case an encoder leaves a parameter unused there."""
    if not is_distributed():
        return objective
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in objective.modules())
    if has_bn and device.type == "cuda":  # SyncBatchNorm is GPU-only; CPU ranks keep local BN
        objective = torch.nn.SyncBatchNorm.convert_sync_batchnorm(objective)
    every_term = set(objective.active) >= set(TERMS)
    return DistributedDataParallel(objective, device_ids=[device] if device.type == "cuda" else None,
                                   find_unused_parameters=not every_term)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: Progress = silent,
    stop: StopRequest | None = None,
) -> Path:
    """Run (or with `resume`, continue) pretraining; returns the run folder. Parsing and the
    steps are reported to `progress`; SIGTERM or SIGHUP (or a set `stop`, when given) saves a
    checkpoint and raises `TrainingStopped`."""
    config.validate()
    if not config.manifest:
        raise ConfigError("no training data: give a manifest")
    info = init_from_env("cuda" if config.device != "cpu" and torch.cuda.is_available() else "cpu")
    device = resolve_device(config.device, info.local_rank)
    return _Run(config, info, device, progress).fit(resume, stop)

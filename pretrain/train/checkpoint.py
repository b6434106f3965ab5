"""Checkpoints (resume exactly), the exported model (plain transformers + safetensors) and
`load_for_eval`.

A run folder holds `checkpoint-NNNNNNN/` (state.pt: model, loss terms, optimizer, scheduler, RNG
states and data position; config.toml), `final/` (image_encoder/ and text_encoder/ via
`save_pretrained`, heads.safetensors with the terms' parameters beside the heads, config.toml; the
tokenizer beside the text encoder), `config.toml`, `metrics.jsonl`, `loss_curve.png`.
Every file and folder appears atomically: written beside its destination, then renamed.

Loading runs no code from the files: `state.pt` is read with `torch.load(weights_only=True)`, so
it may hold tensors, numbers, strings, None and lists, tuples and dicts of them — nothing else
(the RNG states are saved in such forms for that reason), and the exports are safetensors, JSON
and TOML. A file that cannot be loaded, for whatever reason, is a one-line `CheckpointError`.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perturb.errors import DataError
from perturb.io.atomic import TEMP_SUFFIX, make_temp_dir, temp_prefix
from pretrain.train.config import ConfigError, TrainConfig

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "state.pt"
HEADS_FILE = "heads.safetensors"


class CheckpointError(DataError):
    """A checkpoint or exported model that cannot be found or used."""


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / f"{CHECKPOINT_PREFIX}{step:07d}"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


#: What a checkpoint's state.pt holds (and `terms`, the loss terms' parameters); anything else is
#: not a radperturb checkpoint.
STATE_KEYS = frozenset({"model", "optimizer", "scheduler", "rng", "step", "epoch", "step_in_epoch",
                        "world_size", "config"})
#: The model's parameters that were the loss terms' temperatures before the terms owned them (in
#: runs written before), and the term parameter each one is.
LEGACY_TERM_KEYS = {"log_scale_global": "global.log_scale", "log_scale_pert": "pert.log_scale"}
#: How the terms' parameters are named in heads.safetensors.
TERMS_PREFIX = "terms."


def split_state(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A checkpoint's (model state, loss terms' state). An older checkpoint kept the temperatures
    in the model's state; they are handed to their terms (those that exist in this run)."""
    model = dict(state["model"])
    terms = dict(state.get("terms", {}))
    for old, new in LEGACY_TERM_KEYS.items():
        if old in model:
            terms.setdefault(new, model.pop(old))
    return model, terms


def rng_state() -> dict[str, Any]:
    """Every RNG's state as tensors and plain data (numpy's array becomes a tensor), so that
    `torch.load(weights_only=True)` reads it back."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; an older one of the same name goes only after."""
    old = None
    if final.exists():
        old = final.with_name(f"{temp_prefix(final)}old{TEMP_SUFFIX}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], config: TrainConfig, keep: int) -> Path:
    """Write `checkpoint-<step>/` atomically and keep only the newest `keep` checkpoints."""
    final = checkpoint_dir(run_dir, step)
    tmp = make_temp_dir(final)  # named so that a later run removes it if this one is killed
    try:
        torch.save(state, tmp / STATE_FILE)
        config.save(tmp / "config.toml")
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def load_state(path: Path) -> dict[str, Any]:
    """The state of a `checkpoint-*` folder, read with `weights_only=True` (no code runs)."""
    file = path / STATE_FILE
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no {STATE_FILE} (not a checkpoint folder)") from None
    except pickle.UnpicklingError as err:
        if "Weights only load failed" not in str(err):
            raise CheckpointError(f"{file}: unreadable ({_first_line(err)})") from None
        found = re.search(r"GLOBAL (\S+)", str(err))
        what = f" ({found[1]})" if found else ""
        raise CheckpointError(f"{file}: holds objects other than tensors and plain data{what}; "
                              "refusing to load it (loading would run code from the file)") from None
    except Exception as err:  # empty, truncated or not a torch file at all
        raise CheckpointError(f"{file}: unreadable ({_first_line(err)})") from None
    if not isinstance(state, dict) or not STATE_KEYS <= set(state):
        raise CheckpointError(f"{file}: not a radperturb checkpoint")
    return state


def _head_state(objective: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's heads and, prefixed `terms.`, the loss terms' parameters (their temperatures)."""
    heads = {k: v for k, v in objective.model.state_dict().items()
             if not k.startswith(("image_encoder.", "text_encoder."))}
    terms = {TERMS_PREFIX + k: v for k, v in objective.terms.state_dict().items()}
    return {k: v.detach().cpu().contiguous() for k, v in {**heads, **terms}.items()}


def export_final(run_dir: Path, objective: torch.nn.Module, tokenizer, config: TrainConfig) -> Path:
    """`final/`: both encoders of the objective's model with `save_pretrained` (safetensors,
    loadable with plain transformers), the tokenizer beside the text encoder, heads + the loss
    terms' parameters, the config."""
    from safetensors.torch import save_file
    from transformers.utils import logging

    logging.disable_progress_bar()  # save_pretrained's shard bar would break into our own
    final = run_dir / "final"
    tmp = make_temp_dir(final)  # named so that a later run removes it if this one is killed
    model = objective.model
    try:
        model.image_encoder.backbone.save_pretrained(tmp / "image_encoder", safe_serialization=True)
        model.text_encoder.backbone.save_pretrained(tmp / "text_encoder", safe_serialization=True)
        tokenizer.save_pretrained(tmp / "text_encoder")
        save_file(_head_state(objective), tmp / HEADS_FILE)
        config.save(tmp / "config.toml")
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _load_final(path: Path):
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    from pretrain.model.dual_encoder import PretrainModel, attach_decoder, place_queries
    from pretrain.model.encoders import ImageEncoder, TextEncoder, _without_pooler

    config = TrainConfig.load(path / "config.toml")
    image_backbone = AutoModel.from_pretrained(path / "image_encoder")
    text_dir = path / "text_encoder"
    text_cls = MODEL_MAPPING[type(AutoConfig.from_pretrained(text_dir))]
    text_backbone = AutoModel.from_pretrained(text_dir, **_without_pooler(text_cls))
    tokenizer = AutoTokenizer.from_pretrained(text_dir, use_fast=True)
    text = TextEncoder(text_backbone, config.text_last_layers, config.text_buckets)
    model = PretrainModel(ImageEncoder(image_backbone), text, config.embed_dim, place_queries=place_queries(config))
    attach_decoder(model, tokenizer, config)
    heads = {k: v for k, v in load_file(path / HEADS_FILE).items()
             if not k.startswith(TERMS_PREFIX) and k not in LEGACY_TERM_KEYS}  # evaluation needs no loss term
    missing, unexpected = model.load_state_dict(heads, strict=False)
    missing = [k for k in missing if not k.startswith(("image_encoder.", "text_encoder."))]
    if missing or unexpected:
        raise CheckpointError(f"{path / HEADS_FILE}: missing {missing}, unexpected {unexpected}")
    return model, tokenizer, config


def _load_checkpoint(path: Path):
    from pretrain.model.dual_encoder import build_model

    config = TrainConfig.load(path / "config.toml")
    model, tokenizer = build_model(config)
    model.load_state_dict(split_state(load_state(path))[0])
    return model, tokenizer, config


def load_for_eval(path: str | os.PathLike[str]):
    """(model in eval mode, tokenizer, TrainConfig) from a run folder (its `final/`, else its
    newest checkpoint), a `final/` folder or a `checkpoint-*` folder."""
    path = Path(path)
    if (path / "final" / HEADS_FILE).is_file():
        path = path / "final"
    elif not (path / HEADS_FILE).is_file() and not (path / STATE_FILE).is_file():
        checkpoints = list_checkpoints(path)
        if not checkpoints:
            raise CheckpointError(f"{path}: neither a run folder, a final/ export nor a checkpoint")
        path = checkpoints[-1]
    try:
        model, tokenizer, config = _load_final(path) if (path / HEADS_FILE).is_file() else _load_checkpoint(path)
    except CheckpointError:
        raise
    except ConfigError as err:  # its config.toml: a damaged file, not a wrong request
        raise CheckpointError(str(err)) from None
    except Exception as err:  # a truncated safetensors, weights of another size or encoder, ...
        raise CheckpointError(f"{path}: cannot load the model ({_first_line(err)})") from None
    return model.eval(), tokenizer, config

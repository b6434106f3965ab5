"""Checkpoints (resume exactly), the exported model (plain transformers + safetensors) and
`load_for_eval`.

A run folder holds `checkpoint-NNNNNNN/` (state.pt: model, optimizer, scheduler, RNG states and
data position; config.toml), `final/` (image_encoder/ and text_encoder/ via `save_pretrained`,
heads.safetensors, config.toml; the tokenizer beside the text encoder), `config.toml`, `metrics.jsonl`, `loss_curve.png`.
Every file and folder appears atomically: written beside its destination, then renamed.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pretrain.config import TrainConfig

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "state.pt"
HEADS_FILE = "heads.safetensors"


class CheckpointError(ValueError):
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


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; an older one of the same name goes only after."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _staging_dir(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], config: TrainConfig, keep: int) -> Path:
    """Write `checkpoint-<step>/` atomically and keep only the newest `keep` checkpoints."""
    final = checkpoint_dir(run_dir, step)
    tmp = _staging_dir(final)
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


def load_state(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no {STATE_FILE} (not a checkpoint folder)") from None


def _head_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
            if not k.startswith(("image_encoder.", "text_encoder."))}


def export_final(run_dir: Path, model: torch.nn.Module, tokenizer, config: TrainConfig) -> Path:
    """`final/`: both encoders with `save_pretrained` (safetensors, loadable with plain
    transformers), the tokenizer beside the text encoder, heads + temperatures, the config."""
    from safetensors.torch import save_file
    from transformers.utils import logging

    logging.disable_progress_bar()  # save_pretrained's shard bar would break into our own
    final = run_dir / "final"
    tmp = _staging_dir(final)
    try:
        model.image_encoder.backbone.save_pretrained(tmp / "image_encoder", safe_serialization=True)
        model.text_encoder.backbone.save_pretrained(tmp / "text_encoder", safe_serialization=True)
        tokenizer.save_pretrained(tmp / "text_encoder")
        save_file(_head_state(model), tmp / HEADS_FILE)
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

    from pretrain.encoders import ImageEncoder, TextEncoder, _without_pooler
    from pretrain.model import PretrainModel

    config = TrainConfig.load(path / "config.toml")
    image_backbone = AutoModel.from_pretrained(path / "image_encoder")
    text_dir = path / "text_encoder"
    text_cls = MODEL_MAPPING[type(AutoConfig.from_pretrained(text_dir))]
    text_backbone = AutoModel.from_pretrained(text_dir, **_without_pooler(text_cls))
    tokenizer = AutoTokenizer.from_pretrained(text_dir, use_fast=True)
    text = TextEncoder(text_backbone, config.text_last_layers, config.text_buckets)
    model = PretrainModel(ImageEncoder(image_backbone), text, config.embed_dim)
    missing, unexpected = model.load_state_dict(load_file(path / HEADS_FILE), strict=False)
    missing = [k for k in missing if not k.startswith(("image_encoder.", "text_encoder."))]
    if missing or unexpected:
        raise CheckpointError(f"{path / HEADS_FILE}: missing {missing}, unexpected {unexpected}")
    return model, tokenizer, config


def _load_checkpoint(path: Path):
    from pretrain.model import build_model

    config = TrainConfig.load(path / "config.toml")
    model, tokenizer = build_model(config)
    model.load_state_dict(load_state(path)["model"])
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
    model, tokenizer, config = _load_final(path) if (path / HEADS_FILE).is_file() else _load_checkpoint(path)
    return model.eval(), tokenizer, config

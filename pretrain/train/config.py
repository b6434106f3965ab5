"""`TrainConfig`: every setting of a pretraining run, loadable from TOML and saved beside each
checkpoint so that a run can be resumed, evaluated or repeated from its folder alone."""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from perturb.errors import UsageError
from perturb.io.atomic import atomic_open


class ConfigError(UsageError):
    """A setting that cannot work; the message names it."""


@dataclass
class TrainConfig:
    # data
    manifest: str | None = None
    split: str = "train"  # train | valid | test | all
    image_size: int = 224
    channels: int = 3
    augment: bool = True  # random crop-zoom, rotation, shift and exposure jitter of training images
    parse_cache: str | None = None  # None: parse the manifest's texts once into the run folder
    num_workers: int = 0
    max_length: int = 128
    # model
    image_encoder: str = "resnet50"
    text_encoder: str = "minilm"
    tokenizer: str = "minilm"  # used by the random-init text aliases; otherwise the encoder's own
    embed_dim: int = 768
    text_layers: int = 0  # keep only the text encoder's first N transformer layers (0: all)
    text_frozen_layers: int = 0  # freeze its embeddings and first N layers (0: none)
    text_last_layers: int = 4
    text_buckets: int = 1  # length groups for the 1+K texts: 1 is fastest on an H100; more saves memory
    # losses: L = L_global + alpha * L_local + beta * L_pert
    alpha: float = 0.1
    beta: float = 0.1
    positives: str = "pair"  # global loss: pair (CLIP) | tags (pairs with identical tag sets are positives too)
    use_global: bool = True
    use_local: bool = True
    use_pert: bool = True
    k_negatives: int = 9
    kinds: list[str] = field(default_factory=lambda: ["paper"])  # the paper's nine ("all" adds the clinical edits)
    with_replacement: bool = False
    scope: str = "report"
    temp1: float = 4.0
    temp2: float = 5.0
    temp3: float = 10.0
    # HybridMED (docs/hybridmed.md): λ_CG·L_CG + λ_CL·L_CL + λ_Sum·L_Sum + λ_Cap·L_Cap + λ_Dis·L_Dis,
    # a λ of 0 leaves its term off; stage 1 (summarisation) is stage1_fraction of the steps
    lambda_cg: float = 0.0
    lambda_cl: float = 0.0
    lambda_sum: float = 0.0
    lambda_cap: float = 0.0
    lambda_dis: float = 0.0
    stage1_fraction: float = 0.2
    distill_temperature: float = 2.0
    decoder_dim: int = 256
    decoder_layers: int = 3
    decoder_heads: int = 4
    perturb_section: str = "report"  # report | findings | impression: what the negatives perturb
    # PLACE (docs/place.md): + gamma * L_pcma + delta * L_cce
    use_pcma: bool = False
    use_cce: bool = False
    gamma: float = 0.1
    delta: float = 1.0
    place_queries: int = 16
    # optimisation
    batch_size: int = 32
    grad_accum: int = 1
    lr_encoders: float = 5e-5
    lr_image_encoder: float | None = None  # None: lr_encoders; a randomly initialised image encoder needs far more
    lr_heads: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    grad_clip: float = 1.0
    grad_checkpointing: bool = False
    compile: bool = False
    # run
    seed: int = 0
    out_dir: str = "runs/pretrain"
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    save_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    def validate(self) -> "TrainConfig":
        """Raise ConfigError for settings that cannot work; returns self."""
        positive = ("image_size", "max_length", "embed_dim", "text_last_layers", "text_buckets", "batch_size",
                    "grad_accum", "epochs", "save_every", "log_every", "keep_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("num_workers", "text_layers", "text_frozen_layers", "k_negatives", "alpha", "beta",
                     "lr_encoders", "lr_heads", "weight_decay", "grad_clip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("alpha", "beta", "lr_encoders", "lr_heads", "temp1", "temp2", "temp3", "grad_clip"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name} must be finite")
        image_lr = self.lr_image_encoder
        if image_lr is not None and not (math.isfinite(image_lr) and image_lr >= 0):
            raise ConfigError(f"lr_image_encoder must be finite and not negative, got {self.lr_image_encoder}")
        for name in ("gamma", "delta"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"{name} must be finite and not negative, got {getattr(self, name)}")
        if self.place_queries < 1:
            raise ConfigError(f"place_queries must be at least 1, got {self.place_queries}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        from pretrain.hybridmed.config import check_hybrid

        check_hybrid(self)
        if not (self.use_global or self.use_local or self.use_pert or self.hybrid):
            raise ConfigError("all loss terms are switched off: enable at least one of global, local, pert "
                              "or a HybridMED λ")
        if self.use_pert and self.k_negatives < 1:
            raise ConfigError("the perturbation loss needs k_negatives >= 1 (or switch it off)")
        if (self.use_global or self.use_local) and self.batch_size < 2:
            raise ConfigError("contrastive losses need batch_size >= 2")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.split not in ("train", "valid", "test", "all"):
            raise ConfigError(f"split must be train, valid, test or all, got {self.split!r}")
        if self.positives not in ("pair", "tags"):
            raise ConfigError(f"positives must be 'pair' or 'tags', got {self.positives!r}")
        if self.scope not in ("report", "sentence"):
            raise ConfigError(f"scope must be 'report' or 'sentence', got {self.scope!r}")
        from perturb import resolve_kinds

        try:
            resolve_kinds(self.kinds)
        except KeyError as err:
            raise ConfigError(str(err.args[0])) from None
        return self

    @property
    def hybrid(self) -> bool:
        """A HybridMED term is on: the run has two stages (docs/hybridmed.md)."""
        return any(getattr(self, f"lambda_{t}") > 0 for t in ("cg", "cl", "sum", "cap", "dis"))

    @property
    def dataset_split(self) -> str | None:
        """The split for `ManifestDataset` (None: every row)."""
        return None if self.split == "all" else self.split

    @property
    def negatives(self) -> int:
        """Negatives drawn per image (none when the perturbation loss is off)."""
        return self.k_negatives if self.use_pert else 0

    # --- TOML -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> "TrainConfig":
        """Flat keys, or keys grouped in TOML tables (`[loss] alpha = 0.2`): tables are flattened."""
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(flat) - set(known))
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        if isinstance(flat.get("kinds"), str):
            flat["kinds"] = [k.strip() for k in flat["kinds"].split(",") if k.strip()]
        config = cls()
        for key, value in flat.items():
            setattr(config, key, _coerce(key, value, getattr(config, key), where))
        return config

    def with_overrides(self, overrides: dict[str, Any], *, where: str = "overrides") -> "TrainConfig":
        """A copy with `overrides` (setting → value; None: not given) applied and checked like a
        config file's settings (paths become strings); `validate()` is left to the caller."""
        given = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in overrides.items() if v is not None}
        return self.from_dict({**asdict(self), **given}, where=where)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TrainConfig":
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML ({err})") from None
        return cls.from_dict(data, where=str(path))

    def to_toml(self) -> str:
        """Flat TOML; unset (None) values are left out, which restores them as None on load."""
        lines = [f"{key} = {_toml_value(value)}" for key, value in asdict(self).items() if value is not None]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        with atomic_open(path, "w") as handle:
            handle.write(self.to_toml())
        return Path(path)


_OPTIONAL = {"manifest", "parse_cache", "max_steps", "lr_image_encoder"}
#: The type of the optional settings whose default is None.
_OPTIONAL_TYPES = {"max_steps": int, "lr_image_encoder": float}


def _coerce(key: str, value: Any, default: Any, where: str) -> Any:
    if value is None and key in _OPTIONAL:
        return None
    expected = type(default) if default is not None else _OPTIONAL_TYPES.get(key, str)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where}: {key} must be {expected.__name__}, got {value!r}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")

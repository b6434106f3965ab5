"""Options shared by `perturb`, `show` and `list`, and their checks with one-line errors; the
`TrainConfig` settings as flags of `pretrain` and `benchmark ablation`."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

import typer
from rich.markup import escape

from cli.errors import UsageError
from perturb import load_plugins, resolve_kinds

Scope = Literal["report", "sentence"]

KindsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kinds",
        "-k",
        metavar="KINDS",
        help="Perturbations to apply: names (repeat or comma-separate) or 'all'. "
        "See [bold]radperturb list[/bold].",
    ),
]
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed", min=0, metavar="SEED", help="Seed: negatives depend on (seed, id, kind, draw) only."
    ),
]
ScopeOption = Annotated[
    Scope, typer.Option("--scope", help="Perturb the whole report, or each sentence on its own.")
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", metavar="MODEL", help="spaCy model (package or path); default: first installed."),
]
PluginOption = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        metavar="MODULE",
        help="Import a module that registers perturbations (repeatable); the entry point group "
        "'radperturb.perturbations' is always loaded. Importing a module runs its code, as any import "
        "does: name only modules you trust (docs/reliability.md).",
    ),
]


def load_user_perturbations(modules: Iterable[str] | None) -> list[str]:
    """Import `--plugin` modules and the entry point group; returns the names they added."""
    try:
        return load_plugins(list(modules or ()))
    except Exception as err:  # user code: whatever it raises is reported, not traced back
        raise UsageError(f"cannot load perturbation plugins: {type(err).__name__}: {err}") from None


def kinds_from_option(kinds: list[str] | None) -> tuple[str, ...]:
    """Registered names from `--kinds` (default: all), or a one-line error listing them."""
    if not kinds:
        return tuple(resolve_kinds("all"))
    names = [name.strip() for value in kinds for name in value.split(",") if name.strip()]
    if not names:
        raise UsageError("--kinds names no perturbation; see `radperturb list`")
    try:
        return tuple(resolve_kinds(names))
    except KeyError as err:
        raise UsageError(str(err.args[0])) from None


# --- TrainConfig settings as flags -------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """How a `TrainConfig` field is given on the command line. Its default is read from the
    config and written into the help, so the two cannot drift apart."""

    help: str
    flags: tuple[str, ...] = ()  # default: --field-name (a bool: --field-name/--no-field-name)
    min: float | None = None
    max: float | None = None
    metavar: str | None = None


#: Every `TrainConfig` field but `manifest`, by help panel.
TRAIN_SETTINGS: dict[str, dict[str, Setting]] = {
    "Data": {
        "split": Setting("Manifest split to train on: train, valid, test or all."),
        "image_size": Setting("Image side in pixels.", min=16),
        "channels": Setting("Image channels: 1 or 3.", min=1, max=3),
        "augment": Setting("Random crop-zoom, rotation, shift and exposure jitter of training images.",
                           ("--augment/--no-augment",)),
        "parse_cache": Setting("Parse cache of the manifest's reports (`radperturb pretrain-cache`); "
                               "unset: parse once into the run folder.", metavar="FILE"),
        "num_workers": Setting("DataLoader worker processes.", ("--workers", "--num-workers", "-w"), min=0),
        "max_length": Setting("Tokens per report.", min=8),
    },
    "Model": {
        "image_encoder": Setting("resnet50, resnet18-narrow, vit-base, tiny-resnet, tiny-vit or a local "
                                 "transformers folder.",
                                 metavar="NAME"),
        "text_encoder": Setting("minilm, bert-base-random, tiny-bert or a local transformers folder.",
                                metavar="NAME"),
        "tokenizer": Setting("Tokenizer of the random-init text encoders: minilm or a local folder.",
                             metavar="NAME"),
        "embed_dim": Setting("Shared embedding size.", min=1),
        "text_layers": Setting("Keep only the text encoder's first N transformer layers, 0 for all.", min=0),
        "text_frozen_layers": Setting("Freeze the text encoder's embeddings and first N layers, 0 for none.", min=0),
        "text_last_layers": Setting("Text-encoder layers summed into token features (GLoRIA).", min=1),
        "text_buckets": Setting("Length groups the 1+K texts are encoded in (more saves memory).", min=1),
    },
    "Loss terms": {
        "alpha": Setting("Weight of the local loss.", min=0.0),
        "beta": Setting("Weight of the perturbation loss.", min=0.0),
        "use_global": Setting("Global InfoNCE term.", ("--global/--no-global",)),
        "positives": Setting("Global term's positives: pair (CLIP) or tags (pairs with one tag set are "
                             "positives of each other)."),
        "use_local": Setting("GLoRIA local term.", ("--local/--no-local",)),
        "use_pert": Setting("Perturbation discrimination term.", ("--pert/--no-pert",)),
        "k_negatives": Setting("Perturbed negatives per report.", ("--negatives", "--k-negatives", "-K"), min=0),
        "kinds": Setting("Perturbations to draw from: comma-separated names, 'paper' (the paper's nine), "
                         "'clinical' or 'all'.", ("--kinds", "-k"), metavar="KINDS"),
        "with_replacement": Setting("Draw kinds with replacement.", ("--with-replacement/--without-replacement",)),
        "scope": Setting("Perturb the whole report or each sentence on its own: report or sentence."),
        "temp1": Setting("Local loss: sharpness of the word→region attention."),
        "temp2": Setting("Local loss: sharpness of the word aggregation."),
        "temp3": Setting("Local loss: scale of the image–report scores."),
    },
    "HybridMED (docs/hybridmed.md)": {
        "lambda_cg": Setting("Weight of impression ↔ global image InfoNCE (0: off).", min=0.0),
        "lambda_cl": Setting("Weight of findings words ↔ image regions (0: off).", min=0.0),
        "lambda_sum": Setting("Weight of summarisation, findings → impression: stage 1 (0: off).", min=0.0),
        "lambda_cap": Setting("Weight of captioning, image → impression (0: off).", min=0.0),
        "lambda_dis": Setting("Weight of distilling summarisation into captioning (0: off).", min=0.0),
        "stage1_fraction": Setting("Share of steps in stage 1 (summarisation only).", min=0.0, max=0.99),
        "distill_temperature": Setting("Softmax temperature of the distillation.", min=0.01),
        "decoder_dim": Setting("Impression decoder width.", min=1),
        "decoder_layers": Setting("Impression decoder layers.", min=1),
        "decoder_heads": Setting("Impression decoder attention heads.", min=1),
        "perturb_section": Setting("What the negatives perturb: report, findings or impression."),
    },
    "PLACE terms": {
        "use_pcma": Setting("PLACE's pathology-level alignment (a VPOE on the image side).", ("--pcma/--no-pcma",)),
        "use_cce": Setting("PLACE's correlation exploration.", ("--cce/--no-cce",)),
        "gamma": Setting("Weight of the pathology-level alignment.", min=0.0),
        "delta": Setting("Weight of the correlation exploration.", min=0.0),
        "place_queries": Setting("Pathology queries of the VPOE.", min=1),
    },
    "Optimisation": {
        "batch_size": Setting("Pairs per batch (per process).", ("--batch-size", "-b"), min=1),
        "grad_accum": Setting("Batches per optimizer step.", min=1),
        "lr_encoders": Setting("Peak learning rate of the encoders.", min=0.0),
        "lr_image_encoder": Setting("Peak learning rate of the image encoder; unset: --lr-encoders.", min=0.0),
        "lr_heads": Setting("Peak learning rate of heads and temperatures.", min=0.0),
        "weight_decay": Setting("AdamW weight decay.", min=0.0),
        "warmup_ratio": Setting("Share of steps warming up.", min=0.0, max=0.99),
        "grad_clip": Setting("Gradient-norm clip, 0 for none.", min=0.0),
        "grad_checkpointing": Setting("Recompute activations to save memory.",
                                      ("--grad-checkpointing/--no-grad-checkpointing",)),
        "compile": Setting("torch.compile the encoders.", ("--compile/--no-compile",)),
    },
    "Run": {
        "seed": Setting("Seed of init, data order and negatives.", min=0),
        "out_dir": Setting("Run folder.", ("--out-dir", "-o"), metavar="DIR"),
        "epochs": Setting("Passes over the data.", min=1),
        "max_steps": Setting("Optimizer steps (overrides --epochs).", min=1),
        "save_every": Setting("Checkpoint every N steps (an interrupted run resumes from the last).", min=1),
        "keep_checkpoints": Setting("Checkpoints kept in the run folder.", min=1),
        "log_every": Setting("Metrics row every N steps.", min=1),
        "device": Setting("auto, cpu, cuda or cuda:N.", metavar="DEVICE"),
    },
}


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _setting_option(name: str, panel: str, setting: Setting, annotation: object, default: object) -> object:
    """`Annotated[T | None, typer.Option(...)]` for one setting: None when the flag is not given."""
    value_type = next(t for t in typing.get_args(annotation) or (annotation,) if t is not type(None))
    value_type = str if typing.get_origin(value_type) is list else value_type  # kinds: comma-separated
    flag = name.replace("_", "-")
    flags = setting.flags or ((f"--{flag}/--no-{flag}",) if value_type is bool else (f"--{flag}",))
    shown = "" if default is None else " " + escape(f"[default: {_shown(default)}]")  # not rich markup
    return Annotated[value_type | None, typer.Option(
        *flags, help=setting.help + shown, min=setting.min, max=setting.max, metavar=setting.metavar,
        show_default=False, rich_help_panel=panel)]


def train_settings(fields: Iterable[str] | None = None) -> Callable:
    """Give a typer command one flag per `TrainConfig` field in `fields` (default: every field
    of `TRAIN_SETTINGS`); it receives the flags given as `overrides` (field → value), ready for
    `TrainConfig.with_overrides`."""
    from pretrain.train.config import TrainConfig

    types = typing.get_type_hints(TrainConfig)
    defaults = TrainConfig()
    panels = {name: panel for panel, settings in TRAIN_SETTINGS.items() for name in settings}
    settings = {name: s for group in TRAIN_SETTINGS.values() for name, s in group.items()}
    names = list(settings if fields is None else fields)

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "overrides"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_setting_option(
            name, panels[name], settings[name], types[name], getattr(defaults, name))) for name in names]

        @functools.wraps(command)
        def run(**kwargs) -> None:
            overrides = {name: kwargs.pop(name) for name in names}
            return command(**kwargs, overrides={k: v for k, v in overrides.items() if v is not None})

        run.__signature__ = signature.replace(parameters=[*own, *added])
        return run

    return decorate

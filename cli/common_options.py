"""Options shared by `perturb`, `show` and `list`, and their checks with one-line errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

import typer

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

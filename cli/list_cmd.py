"""`radperturb list`: the registered perturbations, the user's own plugins included."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import app
from cli.common_options import PluginOption, load_user_perturbations
from cli.console import print_table
from cli.errors import reported_errors
from perturb import CLINICAL_KINDS, PAPER_KINDS, PERTURBATIONS, PerturbationSpec

BUILTIN = frozenset(PAPER_KINDS + CLINICAL_KINDS)


@app.command("list")
def list_command(
    plugins: PluginOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array (for scripts).")] = False,
) -> None:
    """List the perturbations: name, whether word-preserving, what they need from the parser.

    Perturbations registered by installed packages (entry point group
    'radperturb.perturbations') or by [bold]--plugin[/bold] modules are listed with the built-in ones.

    [bold]Examples[/bold]

      radperturb list

      radperturb list --plugin my_lab.perturbations --json
    """
    with reported_errors("list"):
        load_user_perturbations(plugins)
        specs = list(PERTURBATIONS.values())
        if as_json:
            typer.echo(json.dumps([spec_row(s) for s in specs], indent=2, ensure_ascii=False))
        else:
            print_table(registry_table(specs))


def spec_row(spec: PerturbationSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "word_preserving": spec.word_preserving,
        "needs": sorted(spec.needs),
        "description": spec.description,
        "builtin": spec.name in BUILTIN,
    }


def registry_table(specs: list[PerturbationSpec]) -> Table:
    """Name, then the description above its properties: readable on an 80-column terminal."""
    table = Table(
        show_lines=True, caption="* registered by a plugin · needs: what it reads from the spaCy parse"
    )
    table.add_column("name", no_wrap=True)
    table.add_column("what it does", ratio=1)
    for spec in specs:
        mark = "" if spec.name in BUILTIN else " *"
        words = "keeps the words" if spec.word_preserving else "[bold]changes words[/bold]"
        needs = ", ".join(sorted(spec.needs)) or "nothing"
        table.add_row(
            escape(spec.name) + mark, f"{escape(spec.description)}\n[dim]{words} · needs {needs}[/dim]"
        )
    return table

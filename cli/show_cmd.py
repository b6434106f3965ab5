"""`radperturb show`: one report and its negatives side by side, for a person to audit."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.app import app
from cli.common_options import (
    KindsOption,
    ModelOption,
    PluginOption,
    ScopeOption,
    SeedOption,
    kinds_from_option,
    load_user_perturbations,
)
from cli.console import print_table
from cli.errors import DataError, UsageError, reported_errors
from cli.perturb_stream import failure
from cli.spacy_model import load_parser
from perturb import ParsedReport, PerturbationResult, apply_many
from perturb.parser import text_problem, unicode_problem

MOVED = "bold yellow"
REPLACED = "bold magenta"
NOT_APPLICABLE = "dim"


@app.command("show")
def show_command(
    text: Annotated[
        str,
        typer.Argument(metavar="TEXT", help="The report, or - to read it from stdin.", show_default=False),
    ],
    kinds: KindsOption = None,
    seed: SeedOption = 0,
    scope: ScopeOption = "report",
    key: Annotated[
        str | None,
        typer.Option(
            "--id",
            metavar="ID",
            help="Record id: gives the negatives `perturb` writes for that id "
            "(default: keyed by the text itself).",
        ),
    ] = None,
    model: ModelOption = None,
    plugins: PluginOption = None,
) -> None:
    """Show a report and each perturbation of it side by side.

    Words that moved are [bold yellow]yellow[/bold yellow], words replaced (antonyms) are
    [bold magenta]magenta[/bold magenta]; a kind that cannot change this report is marked n/a.
    With [bold]--id[/bold] and the same seed it shows what `perturb` writes for that record.

    [bold]Examples[/bold]

      radperturb show "The heart is enlarged. There is a small left effusion."

      radperturb show "No acute disease." -k reverse_sentence --seed 3

      echo "Mild cardiomegaly. Clear lungs." | radperturb show - --scope sentence
    """
    with reported_errors("show"):
        load_user_perturbations(plugins)
        names = kinds_from_option(kinds)
        if text == "-":
            try:
                text = sys.stdin.buffer.read().decode("utf-8")
            except UnicodeDecodeError as err:
                raise UsageError(f"stdin is not UTF-8 (byte 0x{err.object[err.start]:02x} at {err.start})") from None
        if not text.strip():
            raise UsageError("the report is empty")
        if problem := text_problem(text):
            raise UsageError(f"the report is {problem}")
        if key is not None and (problem := unicode_problem(key)):
            raise UsageError(f"--id is {problem}")
        report = load_parser(model).parse(text)
        results = []
        for name in names:
            try:
                results += apply_many(report, [name], seed=seed, scope=scope, key=key)
            except Exception as err:  # a plugin's perturbation: its error, not a traceback
                raise DataError(f"perturbation {name!r} failed on this report: {failure(err)}") from None
        print_table(comparison_table(report, results))


def comparison_table(report: ParsedReport, results: list[PerturbationResult]) -> Table:
    """The original, then one row per negative with its moved and replaced words coloured."""
    table = Table(
        show_lines=True,
        caption=f"[{MOVED}]moved[/] · [{REPLACED}]replaced[/] · n/a: not applicable",
    )
    table.add_column("kind", no_wrap=True)
    table.add_column("text", ratio=1)
    table.add_row("original", Text(report.text))
    for result in results:
        if result.applicable:
            table.add_row(Text(result.kind), highlighted(report, result))
        else:
            kind = Text(f"{result.kind}\nn/a", style=NOT_APPLICABLE)
            table.add_row(kind, Text(result.text, style=NOT_APPLICABLE))
    return table


def highlighted(report: ParsedReport, result: PerturbationResult) -> Text:
    """The negative's text with a style on each token that moved or was replaced."""
    replaced = {r.position for r in result.replacements}
    text = Text()
    for i, (token, space) in enumerate(zip(result.tokens, report.whitespace, strict=True)):
        if i in replaced:
            style = REPLACED
        elif result.source_index[i] != i:
            style = MOVED
        else:
            style = ""
        text.append(token, style=style)
        text.append(space)
    return text

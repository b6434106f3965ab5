"""The `radperturb` Typer application; each command lives in its own module.

Command modules import heavy libraries (spaCy, torch) inside their functions, so `radperturb --help`
and the corpus commands start fast.
"""

from __future__ import annotations

import signal
import warnings
from importlib import import_module

import typer

from cli import processes
from perturb import __version__

app = typer.Typer(
    name="radperturb",
    help="Word-preserving perturbations of radiology reports, and pretraining that uses them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Get and prepare data: Open-I reports, phantom images, manifests.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")

#: Modules that add commands to `app` / `data_app` when imported.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.perturb_cmd",
    "cli.show_cmd",
    "cli.list_cmd",
    "cli.data_cmd",
    "cli.pretrain_cmd",
    "cli.evaluate_cmd",
)


#: Typer vendors click; its public `BadParameter` is the way to name click's `UsageError`.
_UsageError: type[Exception] = typer.BadParameter.__base__


def _version(value: bool) -> None:
    if value:
        typer.echo(f"radperturb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """radperturb: teach medical vision-language models what reports say."""


for _module in COMMAND_MODULES:
    import_module(_module)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings (rows left out, missing images) as one line, without the source line Python adds."""
    return f"radperturb: warning: {message}\n"


def main() -> None:
    """Entry point: usage errors (unknown option, bad value) become one line on stderr, exit 2.
    SIGINT, SIGTERM and SIGHUP end the run, and every process it started (`cli.processes`)."""
    processes.install()
    warnings.formatwarning = _one_line_warning
    try:
        code = app(standalone_mode=False)
    except _UsageError as err:
        if err.format_message():  # empty when the help was shown for a bare `radperturb`
            typer.echo(f"radperturb: {err.format_message()} (see --help)", err=True)
        code = 2
    except (typer.Abort, KeyboardInterrupt):
        code = 128 + signal.SIGINT
    except processes.Terminated as err:
        typer.echo(f"radperturb: {err}", err=True)
        code = err.exit_code
    code = code if isinstance(code, int) else 0
    if code in processes.SIGNAL_EXITS:
        processes.exit_now(code)
    raise SystemExit(code)

"""User errors of the CLI: one line on stderr and an exit code, never a traceback.

Exit codes follow the usual convention of command-line tools so that scripts and cluster jobs can
tell a mistake in the command (2) from bad data (1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

USAGE = 2
DATA = 1
#: What a shell reports for a process killed by SIGPIPE (`radperturb ... -o - | head`).
BROKEN_PIPE = 141
INTERRUPTED = 130


class CliError(Exception):
    """An error the user can fix; its message is the whole report."""

    exit_code = DATA


class UsageError(CliError):
    """A wrong command line or environment: unknown kind, missing file or model, bad --shard."""

    exit_code = USAGE


class DataError(CliError):
    """Input that cannot be processed (with --on-error fail): the message names file:line."""

    exit_code = DATA


@contextmanager
def reported_errors(command: str) -> Iterator[None]:
    """Turn the errors a user can cause into `radperturb COMMAND: error: ...` and an exit code."""
    from cli.processes import Terminated
    from perturb import errors
    from perturb.cache import ParseCacheError
    from perturb.parser import ModelNotFoundError

    try:
        yield
    except CliError as err:
        fail(command, str(err), err.exit_code)
    except ModelNotFoundError as err:
        fail(command, str(err), USAGE)
    except ParseCacheError as err:
        fail(command, f"unreadable parse cache: {err}", DATA)
    except errors.UsageError as err:
        fail(command, str(err), USAGE)
    except errors.DataError as err:
        fail(command, str(err), DATA)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as `cat` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(BROKEN_PIPE) from None
    except OSError as err:  # disk full, permission denied, a directory where a file should be
        where = f"{err.filename}: " if err.filename else ""
        fail(command, f"{where}{err.strerror or err}", DATA)
    except EOFError:  # a truncated file that no reader named (click would call it an interruption)
        fail(command, "a file ended early (truncated?)", DATA)
    except UnicodeDecodeError as err:  # a file that no reader named
        fail(command, f"a file is not UTF-8 text (byte 0x{err.object[err.start]:02x} at {err.start})", DATA)
    except KeyboardInterrupt:
        fail(command, "interrupted", INTERRUPTED)
    except Terminated as err:
        fail(command, str(err), err.exit_code)


def fail(command: str, message: str, code: int) -> None:
    """Print one line to stderr and exit with `code`."""
    typer.echo(f"radperturb {command}: error: {message}", err=True)
    raise typer.Exit(code)

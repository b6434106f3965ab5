"""User errors of the CLI: one line on stderr and an exit code, never a traceback.

Exit codes follow the usual convention of command-line tools so that scripts and cluster jobs can
tell a mistake in the command (2) from bad data (1). Commands raise the library's own two error
classes (`perturb.errors.UsageError`, `DataError`), re-exported here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from perturb.errors import DataError, UsageError

USAGE = 2
DATA = 1
#: What a shell reports for a process killed by SIGPIPE (`radperturb ... -o - | head`).
BROKEN_PIPE = 141
INTERRUPTED = 130


@contextmanager
def reported_errors(command: str) -> Iterator[None]:
    """Turn the errors a user can cause into `radperturb COMMAND: error: ...` and an exit code:
    the library's `UsageError` → 2 and `DataError` → 1 (`perturb.errors`), and the operating
    system's errors as what they say."""
    from cli.processes import Terminated

    try:
        yield
    except UsageError as err:
        fail(command, str(err), USAGE)
    except DataError as err:
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


__all__ = ["DATA", "USAGE", "DataError", "UsageError", "fail", "reported_errors"]

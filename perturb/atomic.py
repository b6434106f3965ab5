"""Atomic file writes: readers never see a half-written output, and nothing else is clobbered.

A regular file is written to a temporary file beside it and renamed over it on success; the
temporary file is removed on every exit Python sees (an error, Ctrl-C, SIGTERM turned into an
exception). Only SIGKILL or a power cut can leave one behind, so each temporary name records the
host and process that made it, and the next write into the same folder removes those whose process
is gone. A symlink is followed (the file it points to is replaced, the link stays), and a path that
is not a regular file (`/dev/null`, a FIFO, a device) is written into directly, never replaced.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner() -> str:
    """`host-pid`: who made a temporary file (a host name may hold dashes, a pid never does)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def temp_prefix(path: str | os.PathLike[str]) -> str:
    """The start of every temporary name made for `path`: `.NAME.HOST-PID-`."""
    return f".{Path(path).name}.{_owner()}-"


def make_temp_dir(final: str | os.PathLike[str]) -> Path:
    """A staging folder beside `final`, named so that `remove_stale` knows whose it is."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=temp_prefix(final), suffix=TEMP_SUFFIX, dir=final.parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _stale(name: str, host: str) -> bool:
    """Whether `name` (`.TARGET.HOST-PID-RANDOM.tmp`) was made on `host` by a process that has
    ended."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return False
    parts = name[: -len(TEMP_SUFFIX)].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0].endswith(f".{host}"):
        return False
    pid = int(parts[1])
    return pid != os.getpid() and not _alive(pid)


def remove_stale(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove temporary files and staging folders in `folder` (those made for `name` only, when
    given) whose process on this host has ended; returns what was removed. Temporary names of
    other hosts (a shared file system) and of live processes are left alone."""
    folder = Path(folder)
    host = socket.gethostname()
    start = f".{name}." if name is not None else "."
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(start) and _stale(entry.name, host):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _open(path: str | os.PathLike[str], mode: str, gz: bool, newline: str | None) -> IO:
    encoding = None if "b" in mode else "utf-8"
    if gz:
        return gzip.open(path, mode + ("t" if "b" not in mode else ""), encoding=encoding, newline=newline)
    return open(path, mode, encoding=encoding, newline=newline)


def is_special(path: str | os.PathLike[str]) -> bool:
    """Whether `path` exists and is not a regular file once symlinks are followed (a device,
    a FIFO, a socket): such a path is written into, never replaced."""
    try:
        return not Path(path).is_file() and Path(path).exists() and not Path(path).is_dir()
    except OSError:
        return False


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, newline: str | None = None) -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it over `path` only on success.
    A `.gz` suffix writes gzip. A symlink keeps pointing at the (replaced) file it names; a
    device or FIFO is written into directly."""
    path = Path(path)
    gz = path.suffix == ".gz"
    if is_special(path):
        with _open(path, mode, gz, newline) as handle:
            yield handle
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        with _open(tmp, mode, gz, newline) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a text file for reading, transparently un-gzipping `.gz`."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")

"""Atomic file writes: readers never see a half-written output."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, newline: str | None = None) -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it over `path` only on success.
    A `.gz` suffix writes gzip."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        encoding = None if "b" in mode else "utf-8"
        if path.suffix == ".gz":
            handle = gzip.open(tmp, mode + ("t" if "b" not in mode else ""), encoding=encoding, newline=newline)
        else:
            handle = open(tmp, mode, encoding=encoding, newline=newline)
        with handle:
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

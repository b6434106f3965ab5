"""Where a command writes: never over one of its own inputs, nor twice into one file.

Files are compared as the file system sees them (device and inode), so a symlink or a hard link
to an input is caught as surely as the same path typed twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cli.errors import UsageError

STDIO = "-"
PathLike = str | os.PathLike[str] | None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: the same only if they name one place
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Mapping[str, PathLike], inputs: Iterable[PathLike]) -> None:
    """UsageError when an output (option name → path) is one of `inputs` or another output.
    `-` and None are skipped; a device or FIFO (`/dev/null`) may be given as several outputs."""
    named_outputs = [(name, Path(p)) for name, p in outputs.items() if p is not None and str(p) != STDIO]
    input_paths = [Path(p) for p in inputs if p is not None and str(p) != STDIO]
    for name, path in named_outputs:
        for source in input_paths:
            if source.exists() and _same(path, source):
                shown = "" if str(source) == str(path) else f" ({source})"
                raise UsageError(f"{name} {path} is an input{shown}: refusing to write over it")
    for i, (name, path) in enumerate(named_outputs):
        for other, other_path in named_outputs[i + 1:]:
            if _same(path, other_path) and not (path.exists() and not path.is_file()):
                raise UsageError(f"{name} and {other} are the same file: {path}")

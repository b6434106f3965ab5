"""The one error base of the library.

Every exception that radperturb raises because of what a user asked for or gave it derives from
`UsageError` (the request is wrong: an unknown kind, a missing file or model, a bad option) or
`DataError` (the data is wrong: an unreadable row, a truncated cache, a damaged checkpoint). The
CLI maps these two classes to exit codes 2 and 1; Python users catch `RadperturbError`. Both are
`ValueError`s, so code that caught the library's older ValueErrors keeps working.
"""

from __future__ import annotations


class RadperturbError(ValueError):
    """An error the user can fix; its message is the whole report (one line)."""


class UsageError(RadperturbError):
    """The request itself is wrong: fix the command, the option or the environment."""


class DataError(RadperturbError):
    """The input cannot be processed: the message names the file (and line) at fault."""

"""Signals and child processes of a `radperturb` run: every process a command starts ends with it.

- SIGTERM and SIGHUP become `Terminated` in the main thread, as SIGINT becomes KeyboardInterrupt,
  so that every `with` block unwinds (temporary files are removed) and the run ends with one line
  and status 128 + the signal's number.
- Before raising, the handler ends the worker processes the command forked (spaCy's `--n-process`
  workers): spaCy's pipe joins them as it unwinds, and a worker blocked writing into a full pipe
  would make it wait for ever.
- Forked children ignore SIGINT (a Ctrl-C reaches the whole process group; the parent ends them),
  take SIGTERM's and SIGHUP's default action, and are killed when their parent dies (Linux
  `PR_SET_PDEATHSIG`), so not even a SIGKILLed run leaves them behind.
- A run that ends on a signal leaves through `exit_now`, which ends what children remain and
  skips the interpreter's exit handlers (they would join multiprocessing queues whose readers are
  gone).
- Python prints and drops an exception raised in a fork hook or a `__del__`, and a signal handler
  can run inside one. A signal that arrives while a worker is being forked (inside the hooks that
  `logging` and others register) is therefore held and sent again once the fork is done; for any
  other loss, or an unwinding that stalls, a timer ends the run `GRACE_S` seconds after the signal.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import warnings

#: Exit statuses of a run ended by a signal: 128 + SIGHUP, SIGINT, SIGTERM.
SIGNAL_EXITS = frozenset(128 + s for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM))
#: Seconds a signalled run has to unwind before it is ended without it.
GRACE_S = 10.0
_PR_SET_PDEATHSIG = 1
_main_pid: int | None = None  # the CLI process, once `install` ran
_forking_pid = 0  # the process that forked last, as the child sees it
_forking = False  # between our fork hooks: a signal's exception would be lost
_held: int | None = None  # a signal that arrived while forking, sent again after
_prctl = None  # libc's prctl, looked up before any fork (a child must not load libraries)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like KeyboardInterrupt (not an `Exception`, so no
    `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def end_children(*, daemons: bool = True, timeout: float = 2.0) -> None:
    """Terminate this process's multiprocessing children (daemonic ones too unless `daemons` is
    False: DataLoader and Pool workers, which their owners end as they unwind), then kill those
    that did not go within `timeout` seconds."""
    children = [c for c in multiprocessing.active_children() if daemons or not c.daemon]
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join(timeout)


def _on_signal(signum: int, _frame) -> None:
    global _held
    if os.getpid() != _main_pid:  # a child just forked, its handlers not yet reset: just go
        os._exit(128 + signum)
    if _forking:
        _held = signum
        return
    # spaCy warns (W127) that its workers did not finish: they were ended on purpose.
    warnings.filterwarnings("ignore", message=r"\[W127\]")
    end_children(daemons=False)
    message = "interrupted" if signum == signal.SIGINT else f"terminated by {signal.Signals(signum).name}"
    timer = threading.Timer(GRACE_S, _leave_anyway, (message, 128 + signum))
    timer.daemon = True
    timer.start()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _leave_anyway(message: str, code: int) -> None:
    sys.stderr.write(f"radperturb: {message} (did not unwind in {GRACE_S:g} s)\n")
    exit_now(code)


def _before_fork() -> None:
    global _forking_pid, _forking
    _forking_pid = os.getpid()
    _forking = True


def _after_fork_in_parent() -> None:
    global _forking, _held
    _forking = False
    if _held is not None:  # sent from a thread, so that it arrives after the last fork hook
        signum, _held = _held, None
        threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()


def _in_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != _forking_pid:  # the parent died before prctl took effect
            os._exit(1)


def install() -> None:
    """Install the handlers and the fork hooks; once, from the main thread of the CLI process."""
    global _main_pid, _prctl
    if _main_pid is not None:
        return
    _main_pid = os.getpid()
    if sys.platform.startswith("linux"):
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = None
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_in_child)


def exit_now(code: int) -> None:
    """Leave at once with `code`: end the remaining children, flush stdout and stderr, and skip
    the exit handlers."""
    try:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        end_children()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    finally:
        os._exit(code)

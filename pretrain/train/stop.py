"""Stop requests: SIGTERM or SIGHUP (a scheduler's kill, a closed terminal) asks a long run to
stop at its next safe point — training saves a checkpoint there first. One handler serves a
training and an ablation that runs trainings one after another: the ablation installs it and
hands the same request to each training."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: Signals that ask a run to stop cleanly.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class StopRequest(threading.Event):
    """Set when a stop was asked for; `signum` says by which signal (SIGTERM when none did:
    another rank, a time budget)."""

    signum: int = signal.SIGTERM

    def request(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum
        self.set()


@contextlib.contextmanager
def stop_requests(stop: StopRequest | None = None) -> Iterator[StopRequest]:
    """A `StopRequest` set by SIGTERM or SIGHUP while the block runs; the previous handlers are
    restored after. A caller's `stop` (whose handler is installed already) is used as it is.
    Outside the main thread no handler can be installed: the request is only set by hand."""
    if stop is not None:
        yield stop
        return
    event = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {s: signal.signal(s, lambda signum, _frame: event.request(signum)) for s in STOP_SIGNALS}
    try:
        yield event
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

"""SIGINT and SIGTERM end a run the same way: between two steps, with the folder finished.

A CI runner or ``systemd`` stops a job with SIGTERM, a person with Ctrl-C; both used to
differ (SIGTERM killed the process mid-chunk, leaving ``run.json`` at ``running``). Here the
first signal asks the run to stop (``Stop.request``: the loop ends after the current step,
the recording is flushed, KPIs, verdicts and report are written, ``status`` is
``interrupted`` with the signal as the reason). A second signal means "now": the process
exits at once with 128 + the signal number, and ``satwin finish`` completes the folder.

Handlers can only be installed in the main thread; elsewhere (a GUI worker thread, a test
calling a session from a thread) ``stop_on_signals`` does nothing and the owner of the main
thread decides.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
REASONS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


@contextlib.contextmanager
def stop_on_signals(request: Callable[[str], None], on_second: Callable[[], None] | None = None) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM call ``request(reason)``; a second one runs ``on_second`` and exits."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, _frame) -> None:
        received.append(signum)
        if len(received) == 1:
            print(f"\n{REASONS.get(signum, signum)}: stopping after this step (again to quit at once)",
                  file=sys.stderr, flush=True)
            request(REASONS.get(signum, f"signal {signum}"))
            return
        if on_second is not None:
            on_second()
        os._exit(128 + signum)  # the user insists: no flush; `satwin finish` completes the folder

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def default_signals() -> None:
    """For worker processes forked from a process that handles signals: start from Python's defaults."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

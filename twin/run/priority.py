"""The calling thread's OS scheduling priority, lowered while a paced twin is behind the wall clock.

Linux schedules threads, and ``setpriority(PRIO_PROCESS, thread id)`` sets the nice value of
that one thread. So the twin's thread can give way, when the machine cannot keep the speed
asked, to the servers that share its process (Modbus, RTU and OCPP threads, started before
the run and keeping their own priority) and to the controller under test, while it still
takes every core they leave idle. Elsewhere a process's threads share its priority, and
lowering it would slow the servers as well: nothing is done there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable

NICEST = 19  # the lowest priority a nice value can give


def lower_this_thread(by: int) -> Callable[[], None]:
    """Lower the calling thread's priority by ``by`` nice levels; returns what puts it back.

    Putting it back needs a privilege an ordinary user may not have (``RLIMIT_NICE``): then
    the thread stays lowered, as threads it starts afterwards are.
    """
    if not sys.platform.startswith("linux"):
        return _nothing
    thread_id = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(NICEST, before + by))
    except OSError:  # a sandbox that forbids it: run as before
        return _nothing

    def restore() -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread_id, before)

    return restore


def _nothing() -> None:
    pass

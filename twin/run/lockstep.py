"""The lockstep clock: after each step the twin waits for the controller's acknowledgement.

A paced clock (``WallClock``) lets a slow controller or a busy machine fall behind the
twin, so the verdict depends on the machine. Under lockstep the twin publishes the
number of the step it has just finished (``site.step`` on the HIL bench) and does not
start the next one until a client acknowledges that number (``site.step_ack``): the run
goes as fast as the controller allows, and a deterministic controller sees exactly the
same measurements at exactly the same simulated times on any machine.

Whoever receives the acknowledgement (the Modbus datastore, in another thread) calls
``acknowledge``; the waiting run loop is woken through a ``threading.Condition``. A
controller that does not answer within ``timeout_s`` wall seconds does not hang the run:
the step is released, ``on_timeout`` is told (the HIL bench records a
``lockstep_timeout`` event) and the twin carries on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from twin.run.lateness import LatenessHistogram

STOP_POLL_S = 0.2  # how soon a set ``stop`` event ends a wait (Ctrl-C ends it at once)


class LockstepClock:
    """Step ``n`` is released by ``acknowledge(n)`` (or a later number), or after ``timeout_s``.

    ``first_timeout_s`` bounds the wait for step 1, while the controller is still starting
    (``None``: wait until acknowledged or ``stop``). ``on_timeout(step, waited_s)`` runs in the
    run loop's thread. ``last_step``: the run's last step, after which nothing waits (what a
    controller does then can no longer act).
    """

    speed = float("inf")  # as fast as the controller allows

    def __init__(self, timeout_s: float = 5.0, first_timeout_s: float | None = None,
                 on_timeout: Callable[[int, float], None] | None = None,
                 stop: threading.Event | None = None, last_step: int | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("lockstep timeout must be positive")
        self.timeout_s = timeout_s
        self.first_timeout_s = first_timeout_s
        self.on_timeout = on_timeout
        self.stop = stop
        self.last_step = last_step
        self.step = 0  # the last step published (waited for)
        self.timeouts = 0
        self.consecutive_timeouts = 0
        # wall time the controller took per step, in constant memory (a list grew 32 bytes a step);
        # step 1 is kept apart: it includes the controller's start-up
        self.wait = LatenessHistogram()
        self._first_wait_s: float | None = None
        self._acked = 0
        self._condition = threading.Condition()

    def start(self) -> None:
        with self._condition:
            self.step, self._acked = 0, 0

    @property
    def acked(self) -> int:
        return self._acked

    def acknowledge(self, step: int) -> None:
        """A client has finished with ``step`` (thread-safe; called by the datastore)."""
        with self._condition:
            if step > self._acked:
                self._acked = step
                self._condition.notify_all()

    def end(self) -> None:
        pass

    def wait_until(self, sim_t_s: float) -> float:
        """Wait for the acknowledgement of the step that has just ended; lateness is always 0."""
        with self._condition:
            self.step += 1
            step = self.step
            if self.last_step is not None and step >= self.last_step:
                return 0.0
            limit_s = self.first_timeout_s if step == 1 else self.timeout_s
            started = time.perf_counter()
            while self._acked < step and not self._stopped():
                left_s = None if limit_s is None else limit_s - (time.perf_counter() - started)
                if left_s is not None and left_s <= 0:
                    break
                self._condition.wait(STOP_POLL_S if left_s is None else min(left_s, STOP_POLL_S))
            waited_s = time.perf_counter() - started
            acked = self._acked >= step
        if self._first_wait_s is None:
            self._first_wait_s = waited_s
        else:
            self.wait.add(waited_s)
        if acked:
            self.consecutive_timeouts = 0
        elif not self._stopped():
            self.timeouts += 1
            self.consecutive_timeouts += 1
            if self.on_timeout is not None:
                self.on_timeout(step, waited_s)
        return 0.0

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def summary(self) -> dict[str, float]:
        """Controller time per step (wall ms, p50/p99/max) and the number of timeouts."""
        if self._first_wait_s is None:
            return {"lockstep_timeouts": self.timeouts}
        wait = self.wait
        if not wait.count:  # a one-step run: its only step is all there is
            only_ms = self._first_wait_s * 1e3
            return {"controller_p50_ms": only_ms, "controller_p99_ms": only_ms, "controller_max_ms": only_ms,
                    "lockstep_timeouts": self.timeouts}
        return {"controller_p50_ms": wait.percentile_s(50) * 1e3, "controller_p99_ms": wait.percentile_s(99) * 1e3,
                "controller_max_ms": wait.max_s * 1e3, "lockstep_timeouts": self.timeouts}

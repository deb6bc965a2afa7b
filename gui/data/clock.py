"""A wall clock the GUI can pause and re-speed while the run is in progress."""

from __future__ import annotations

import threading
import time

from twin.run.loop import WallClock


class ControlledClock(WallClock):
    """``WallClock`` plus pause, resume and a speed change without a jump in simulated time.

    Pausing holds the worker in ``wait_until`` (between steps, so the twin is never left
    half-stepped); on resume or a speed change the clock re-anchors so the current
    simulated time maps to *now*, otherwise the time spent paused would come back as a
    burst of back-to-back catch-up steps.
    """

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._resumed = threading.Event()
        self._resumed.set()
        self._lock = threading.Lock()
        self._sim_now_s = 0.0

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        with self._lock:
            self._reanchor()
        self._resumed.set()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        with self._lock:
            self.speed = speed
            self._reanchor()

    def _reanchor(self) -> None:
        self._t0 = time.perf_counter() - self._sim_now_s / self.speed

    def wait_until(self, sim_t_s: float) -> float:
        if not self._resumed.is_set():
            self._resumed.wait()
        with self._lock:
            self._sim_now_s = sim_t_s
        # a speed change landing during the parent's read mis-paces at most this one step
        return super().wait_until(sim_t_s)

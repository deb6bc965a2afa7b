"""The GUI's handle on a live run whose twin steps in a worker process (``gui.data.worker``)."""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path

from PySide6 import QtCore

from gui.data.channels import Channels
from gui.data.store import SeriesStore
from gui.data.worker import worker_main
from twin.config.errors import SimulationError
from twin.config.scenario import Scenario

QUEUE_BATCHES = 64  # the bound between worker and GUI: at most ~64 x 2048 rows in flight
READY_TIMEOUT_S = 120.0  # spawning the worker imports the twin (pandapower) and builds the site


class BatchReader:
    """GUI side of the bounded queue: moves row batches and events into a ``SeriesStore``."""

    def __init__(self, in_queue) -> None:
        self.in_queue = in_queue
        self.final: tuple[str, str | None] | None = None  # (status, error) once the worker has finished

    def drain_into(self, store: SeriesStore, budget_s: float = 0.010) -> int:
        """Take what is pending, but only for ``budget_s``, so a backlog never blocks a redraw."""
        moved, until = 0, time.perf_counter() + budget_s
        while time.perf_counter() < until:
            try:
                message = self.in_queue.get_nowait()
            except queue.Empty:
                break
            if message[0] == "rows":
                _, t_s, block, events = message
                store.extend(t_s, block)
                store.events.extend(events)
                moved += len(t_s)
            elif message[0] == "finished":
                self.final = (message[1], message[2])
        return moved


class RemoteClock:
    """Pause and speed of the worker's clock, as the window sees and sets them."""

    def __init__(self, commands, speed: float) -> None:
        self.commands, self.speed, self.paused = commands, speed, False

    def pause(self) -> None:
        self.paused = True
        self.commands.put(("pause", None))

    def resume(self) -> None:
        self.paused = False
        self.commands.put(("resume", None))

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self.commands.put(("speed", speed))


class LiveRun(QtCore.QObject):
    """One paced run of a scenario; ``finished`` carries the run's status when the worker ends."""

    finished = QtCore.Signal(str)

    def __init__(self, scenario: Scenario, out_dir: Path, speed: float = 60.0, controller: str | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.out_dir = Path(out_dir)
        self.controller = controller or scenario.controller
        context = multiprocessing.get_context("spawn")  # never fork a process that has Qt loaded
        self._rows = context.Queue(maxsize=QUEUE_BATCHES)
        self._commands = context.Queue()
        self._process = context.Process(target=worker_main, name="satwin-twin", daemon=True,
                                        args=(scenario, str(self.out_dir), speed, self.controller, self._rows,
                                              self._commands))
        self._process.start()
        message = self._rows.get(timeout=READY_TIMEOUT_S)
        if message[0] != "ready":
            self._process.join(5)
            raise SimulationError(f"the twin could not start: {message[1]}")
        self.channels = Channels(message[1])
        self.buffer = BatchReader(self._rows)
        self.clock = RemoteClock(self._commands, speed)
        self.status = "not started"
        self.error: str | None = None
        self.started = False

    @property
    def running(self) -> bool:
        return self.started and self.buffer.final is None and self._process.is_alive()

    def start(self) -> None:
        if not self.started:
            self.started, self.status = True, "running"
            self._commands.put(("start", None))

    def inject(self, fault) -> None:
        """Hand a fault to the worker; it schedules it between two steps."""
        self._commands.put(("fault", fault))

    def poll(self, store: SeriesStore) -> int:
        """Move new data into ``store``; emits ``finished`` once, when the worker reports its end."""
        moved = self.buffer.drain_into(store)
        if self.buffer.final is not None and self.status in ("running", "not started"):
            self.status, self.error = self.buffer.final
            self.finished.emit(self.status)
        return moved

    def stop(self, store: SeriesStore | None = None, timeout_s: float = 120.0) -> None:
        """Stop stepping and wait until the worker has finished the recording (KPIs, report)."""
        if self.buffer.final is None and self._process.is_alive():
            self._commands.put(("stop", None))
        sink = store if store is not None else SeriesStore(self.channels.names, 1)
        deadline = time.monotonic() + timeout_s
        while self.buffer.final is None and self._process.is_alive() and time.monotonic() < deadline:
            self.poll(sink)  # keep reading, or a worker blocked on the full queue never ends
            time.sleep(0.01)
        self.poll(sink)
        self._process.join(max(1.0, deadline - time.monotonic()))
        if self.status in ("running", "not started"):
            self.status = self.buffer.final[0] if self.buffer.final else "interrupted"

"""The live run: the twin steps in a worker thread, the GUI only reads what it hands over.

The worker runs the same ``run_loop`` as ``satwin run`` (recorder included, so a live
session leaves an ordinary results folder) with a pausable wall clock. Requests from the
GUI (faults) are queued and applied by the worker between steps, the only moment the
twin may be touched.
"""

from __future__ import annotations

import queue
import threading
import traceback
from pathlib import Path

from PySide6 import QtCore

from gui.channels import Channels, SiteNames
from gui.clock import ControlledClock
from gui.store import RowBuffer
from twin.controllers import make_controller
from twin.errors import SimulationError
from twin.run import RunStats, builtin_control, run_loop
from twin.scenario import Scenario
from twin.session import finish_run, start_run


class BufferSink:
    """A run-loop sink that copies each step's channels into the bounded buffer."""

    def __init__(self, channels: Channels, buffer: RowBuffer) -> None:
        self.channels, self.buffer = channels, buffer

    def on_snapshot(self, snap) -> None:
        self.buffer.put(snap.t_s, lambda row: self.channels.fill_row(row, snap))

    def on_events(self, events) -> None:
        self.buffer.put_events(events)


class LiveRun(QtCore.QObject):
    """One paced run of a scenario; ``finished`` carries the run's status when the worker ends."""

    finished = QtCore.Signal(str)

    def __init__(self, scenario: Scenario, out_dir: Path, speed: float = 60.0, controller: str | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.out_dir = Path(out_dir)
        self.controller = controller or scenario.controller
        self.twin, self.recorder = start_run(scenario, self.out_dir, f"{self.controller} (gui)")
        self.channels = Channels(SiteNames.from_twin(self.twin))
        self.buffer = RowBuffer(len(self.channels))
        self.clock = ControlledClock(speed)
        self.stop_event = threading.Event()
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.status = "not started"
        self.error: str | None = None
        self.stats = RunStats()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self.status = "running"
            self._thread = threading.Thread(target=self._work, name="satwin-twin", daemon=True)
            self._thread.start()

    def request(self, action) -> None:
        """Queue ``action(twin)`` for the worker to run before its next step."""
        self.requests.put(action)

    def _control(self):
        decide = builtin_control(make_controller(self.controller, self.twin.site_info))

        def control(snap):
            while True:
                try:
                    action = self.requests.get_nowait()
                except queue.Empty:
                    break
                action(self.twin)
            return decide(snap)

        return control

    def _work(self) -> None:
        status = "completed"
        try:
            self.stats = run_loop(self.twin, self._control(), [self.recorder, BufferSink(self.channels, self.buffer)],
                                  clock=self.clock, stop=self.stop_event, record_lateness=True)
            if self.stats.interrupted:
                status = "interrupted"
        except SimulationError as exc:
            status, self.error = "failed", str(exc)
        except Exception:  # a bug must still leave a finished, readable results folder
            status, self.error = "failed", traceback.format_exc(limit=3)
        extra = {"error": self.error} if self.error else {}
        extra["lateness"] = self.stats.lateness_summary_ms(self.scenario.step_s / self.clock.speed)
        finish_run(self.out_dir, self.recorder, self.stats, status, **extra)
        self.status = status
        self.finished.emit(status)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop stepping and wait until the recording is finished (KPIs and report written)."""
        self.stop_event.set()
        self.buffer.close()
        self.clock.resume()
        if self._thread is not None:
            self._thread.join(timeout_s)
        elif self.status == "not started":  # an unstarted run still leaves a valid, empty folder
            finish_run(self.out_dir, self.recorder, self.stats, "interrupted")
            self.status = "interrupted"

"""The twin's side of a live run, in its own process (no Qt in here).

Why a process and not a thread: the twin steps flat out at high speed, and in one
interpreter it and the GUI fought over the GIL — measured with ``gui.bench``, the redraw
rate fell from ~30/s to ~5/s and single redraws took up to 0.9 s. In its own process the
twin gets its own core and the GUI only unpacks row batches.

The worker runs the same ``Session`` as ``satwin run`` (recorder included, so a live
session leaves an ordinary results folder) with a pausable wall clock. Commands from the
GUI arrive on a queue; a listener thread applies clock commands at once and hands faults
to the control hook, which the loop calls between steps — the only moment the twin may
be touched.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from gui.data.channels import Channels, SiteNames
from gui.data.clock import ControlledClock

BATCH_ROWS = 2048
BATCH_WALL_S = 0.02  # a batch at least every 20 ms keeps the plots smooth at 1x too


class BatchSender:
    """Collects rows and events and puts them on the bounded queue as batches.

    The queue is bounded (``maxsize`` batches): a GUI that falls behind slows the twin
    down, which the wall clock then reports as lateness, instead of memory growing.
    """

    def __init__(self, out_queue, width: int, stop: threading.Event) -> None:
        self.out_queue, self.stop = out_queue, stop
        self._t_s = np.zeros(BATCH_ROWS)
        self._rows = np.zeros((BATCH_ROWS, width))
        self._n = 0
        self._events: list = []
        self._sent_at = time.perf_counter()

    def add(self, t_s: float, fill) -> None:
        fill(self._rows[self._n])
        self._t_s[self._n] = t_s
        self._n += 1
        if self._n == BATCH_ROWS or time.perf_counter() - self._sent_at > BATCH_WALL_S:
            self.flush()

    def add_events(self, events: list) -> None:
        self._events.extend(events)

    def flush(self) -> None:
        if not (self._n or self._events):
            return
        batch = ("rows", self._t_s[:self._n].copy(), self._rows[:self._n].T.copy(), self._events)
        self._n, self._events, self._sent_at = 0, [], time.perf_counter()
        while True:
            try:
                self.out_queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set():
                    return  # the window is closing and no longer reads


class QueueSink:
    """A run-loop sink that sends each step's channels to the GUI."""

    def __init__(self, channels: Channels, sender: BatchSender) -> None:
        self.channels, self.sender = channels, sender

    def on_snapshot(self, snap) -> None:
        self.sender.add(snap.t_s, lambda row: self.channels.fill_row(row, snap))

    def on_events(self, events) -> None:
        self.sender.add_events(events)


def worker_main(scenario, out_dir: str, speed: float, controller: str, out_queue, commands) -> None:
    """Build the twin, report its names, wait for ``start``, run, finish the results folder."""
    from twin.model.controllers import make_controller
    from twin.run.loop import builtin_control
    from twin.run.session import Session

    stop, started, faults = threading.Event(), threading.Event(), queue.SimpleQueue()
    try:
        session = Session.start(scenario, Path(out_dir), f"{controller} (gui)", stop=stop)
    except Exception as exc:  # reported to the window, which raises it to the user
        out_queue.put(("failed", f"{type(exc).__name__}: {exc}"))
        return
    twin = session.twin
    channels = Channels(SiteNames.from_twin(twin))
    out_queue.put(("ready", channels.site_names))
    clock = ControlledClock(speed)

    def listen() -> None:
        while True:
            command, argument = commands.get()
            if command == "start":
                started.set()
            elif command == "pause":
                clock.pause()
            elif command == "resume":
                clock.resume()
            elif command == "speed":
                clock.set_speed(argument)
            elif command == "fault":
                faults.put(argument)
            elif command == "stop":
                stop.set()
                clock.resume()
                started.set()
                return

    threading.Thread(target=listen, name="satwin-commands", daemon=True).start()
    decide = builtin_control(make_controller(controller, twin.site_info))

    def control(snap):
        while not faults.empty():
            twin.schedule_fault(faults.get(), source="gui")
        return decide(snap)

    started.wait()
    sender = BatchSender(out_queue, len(channels), stop)
    try:
        with session:  # stopped before the start: the loop ends at once, "interrupted"
            try:
                session.run(control, [QueueSink(channels, sender)], clock=clock, record_lateness=True)
            finally:
                sender.flush()
    except Exception:  # a bug: the session finished the folder as failed; the window shows why
        traceback.print_exc()
    out_queue.put(("finished", session.result.status, session.result.error))

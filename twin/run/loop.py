"""The runner loop: clock, controller, twin, sinks.

One loop serves every mode: ``satwin run`` (as fast as possible, built-in controller),
``satwin serve`` (paced to the wall clock, setpoints from Modbus) and the GUI. Real time
is a choice of clock, never a different twin. Sinks (recorder, Modbus image, GUI buffer)
receive every snapshot and the step's events; a sink never drives the twin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from twin.model.commands import Command
from twin.model.controllers.base import Controller
from twin.model.core import Snapshot, Twin
from twin.model.events import Event
from twin.run.lateness import LatenessHistogram
from twin.run.overrun import OVERRUN_POLICIES
from twin.run.priority import lower_this_thread


class Sink(Protocol):
    def on_snapshot(self, snap: Snapshot) -> None: ...

    def on_events(self, events: list[Event]) -> None: ...


class Clock(Protocol):
    speed: float  # simulated seconds per wall second (inf: as fast as possible)

    def start(self) -> None: ...

    def wait_until(self, sim_t_s: float) -> float:
        """Block until ``sim_t_s`` is due; return how late the step is (s, 0 when on time)."""

    def end(self) -> None:
        """The run is over (whichever way it ended): undo what pacing it changed."""


class FastClock:
    """As fast as possible: CI, sweeps, ``satwin run``."""

    speed = float("inf")

    def start(self) -> None:
        pass

    def wait_until(self, sim_t_s: float) -> float:
        return 0.0

    def end(self) -> None:
        pass


OVERRUN_REPORT_S = 60.0  # while a run stays behind, a reminder at most this often
# the longest a step behind the wall clock waits for a server to answer what it has taken: far
# above an answer's ~0.1 ms, so it only bounds a server that never gets done (a flood)
BEHIND_YIELD_S = 0.05
# nice levels the twin's thread gives way by once it overruns (Linux; ``twin.run.priority``):
# under ``satwin bench soak --days 1`` 10 Modbus clients' p99 was 1.5-1.9x the keeping-up one
# with it, 1.6-2.2x without, and the twin ran as many steps (docs/controller-guide.md)
BEHIND_NICE = 10


class WallClock:
    """Paced to the wall clock at ``speed`` x real time (HIL, GUI).

    Overrun (a step later than one whole wall-clock step), by ``overrun`` policy; a late
    step is never skipped, so simulation time never jumps:

    * ``warn`` (default): the twin runs the next steps back to back until it has caught up;
      ``on_overrun`` hears of it at once, then at most once a minute while it lasts;
    * ``slow``: the clock is moved on by the lateness, so the run continues slower than asked
      instead of catching up in a burst (a controller sees steady steps, never a flood);
    * ``stop``: ``on_overrun`` hears of it and the caller ends the run (``serve`` fails it).

    Every step's lateness is recorded either way. While behind, each step
    yields the GIL (``sleep(0)``), then calls ``yield_to(BEHIND_YIELD_S)``: a server in this
    process (``satwin serve``'s Modbus server) answers what it has been asked before the twin
    goes on, so it is served first and the twin, not the server, runs slower. From its first
    overrun to the run's end the twin's thread also runs ``BEHIND_NICE`` nice levels lower
    (Linux, ``twin.run.priority``): the cores go to the servers and the controller first.
    """

    def __init__(self, speed: float = 1.0, overrun: str = "warn",
                 on_overrun: Callable[[str], None] | None = None,
                 yield_to: Callable[[float], object] | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if overrun not in OVERRUN_POLICIES:
            raise ValueError(f"overrun must be one of {', '.join(OVERRUN_POLICIES)}")
        self.speed, self.overrun, self.on_overrun = speed, overrun, on_overrun
        self.yield_to = yield_to
        self._t0 = 0.0
        self._last_sim_t_s = 0.0
        self._last_report = -float("inf")
        self._restore_priority: Callable[[], None] | None = None  # set while the thread is lowered

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def end(self) -> None:
        if self._restore_priority is not None:
            self._restore_priority()
            self._restore_priority = None

    def wait_until(self, sim_t_s: float) -> float:
        due = self._t0 + sim_t_s / self.speed
        now = time.perf_counter()
        step_wall_s, self._last_sim_t_s = (sim_t_s - self._last_sim_t_s) / self.speed, sim_t_s
        if now < due:
            time.sleep(due - now)
            return max(0.0, time.perf_counter() - due)
        late_s = now - due
        if late_s > step_wall_s:
            self._overran(late_s, sim_t_s)
        time.sleep(0)  # the GIL to a thread waiting for it (a server that has just been asked)
        if self.yield_to is not None:
            self.yield_to(BEHIND_YIELD_S)  # and then until it has answered
        return late_s

    def _overran(self, late_s: float, sim_t_s: float) -> None:
        if self._restore_priority is None:
            self._restore_priority = lower_this_thread(BEHIND_NICE)
        if self.overrun == "slow":
            self._t0 += late_s
        now = time.monotonic()
        if self.on_overrun is not None and (self.overrun == "stop" or now - self._last_report >= OVERRUN_REPORT_S):
            self._last_report = now
            self.on_overrun(f"overrun at t = {sim_t_s:g} s: {late_s * 1e3:.0f} ms behind the wall clock; this "
                            f"machine cannot keep {self.speed:g}x (--overrun {self.overrun}"
                            f"{': running slower from here' if self.overrun == 'slow' else ''})")


# what a controller decides after a step (nothing before the first); None or [] leaves everything as it is
SetpointSource = Callable[[Snapshot | None], list[Command] | None]


def builtin_control(controller: Controller) -> SetpointSource:
    """The built-in controller as a setpoint source: it sees measurements, never the truth."""

    def decide(snap: Snapshot | None) -> list[Command] | None:
        return None if snap is None else controller.decide(snap.measured)

    return decide


class Stop(threading.Event):
    """Set to end a run between two steps; it says why, and whether that makes the run a failure.

    A plain ``threading.Event`` works too (the run then ends ``interrupted``, "stop requested").
    The first reason given wins: a later ``request`` does not rewrite why the run ended.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reason = "stop requested"
        self.failed = False

    def request(self, reason: str, failed: bool = False) -> None:
        if not self.is_set():
            self.reason, self.failed = reason, failed
        self.set()


class Stepper:
    """One step of a run: the controller's commands, the twin's step, every sink.

    ``run_loop`` repeats it; rigs and short studies that decide themselves when a step
    happens call ``step`` directly, so there is one definition of what a step does.
    """

    def __init__(self, twin: Twin, control: SetpointSource, sinks: Sequence[Sink] = ()) -> None:
        self.twin, self.control, self.sinks = twin, control, list(sinks)
        self.dt_s = twin.scenario.step_s
        self.snap: Snapshot | None = None

    def step(self) -> Snapshot:
        commands = self.control(self.snap)
        if commands:
            self.twin.apply(commands)
        snap = self.snap = self.twin.step(self.dt_s)
        events = self.twin.log.drain()
        for sink in self.sinks:
            sink.on_snapshot(snap)
            if events:
                sink.on_events(events)
        return snap


class Collector:
    """A sink that keeps every snapshot and event in memory (test rigs, short studies)."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.events: list[Event] = []

    def on_snapshot(self, snap: Snapshot) -> None:
        self.snapshots.append(snap)

    def on_events(self, events: list[Event]) -> None:
        self.events.extend(events)


@dataclass
class RunStats:
    steps: int = 0
    wall_s: float = 0.0
    lateness: LatenessHistogram = field(default_factory=LatenessHistogram)
    overruns: int = 0  # steps later than one whole wall-clock step
    interrupted: bool = False

    def lateness_summary_ms(self, step_wall_s: float | None = None) -> dict[str, float]:
        """p50/p99 (within one histogram bin, ~6 %), exact max lateness, and the overruns."""
        if not self.lateness.count:
            return {}
        return {"p50_ms": self.lateness.percentile_s(50) * 1e3, "p99_ms": self.lateness.percentile_s(99) * 1e3,
                "max_ms": self.lateness.max_s * 1e3, "overruns": self.overruns}


def run_loop(twin: Twin, control: SetpointSource, sinks: Sequence[Sink], clock: Clock | None = None,
             progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
             record_lateness: bool = False, stats: RunStats | None = None) -> RunStats:
    """Step the twin through the scenario; stops early (``interrupted``) when ``stop`` is set.

    ``stats`` is filled in as the loop goes, so a caller that sees the loop raise still
    knows how far it got.
    """
    clock = clock or FastClock()
    n_steps = twin.scenario.n_steps
    stats = stats if stats is not None else RunStats()
    stepper = Stepper(twin, control, sinks)
    report_every = max(1, n_steps // 200)
    started = time.perf_counter()
    clock.start()
    try:
        for k in range(n_steps):
            if stop is not None and stop.is_set():
                stats.interrupted = True
                break
            snap = stepper.step()
            lateness = clock.wait_until(snap.t_s)
            if record_lateness:
                stats.lateness.add(lateness)
                if lateness > twin.scenario.step_s / clock.speed:
                    stats.overruns += 1
            stats.steps = k + 1
            if progress is not None and (k % report_every == 0 or k == n_steps - 1):
                progress(k + 1, n_steps)
    finally:
        stats.wall_s = time.perf_counter() - started
        clock.end()
    return stats

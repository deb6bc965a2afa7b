"""The one run lifecycle: open a results folder, run the loop, finish the folder however the run ends.

Every way of running the twin goes through ``Session``: ``satwin run`` (``run_scenario``),
``satwin serve`` (``hil.serve``), the GUI worker, the acceptance runner and the bench::

    with Session(twin, out_dir, "peak-shaving") as session:
        session.run(control, sinks, clock=clock)
    result = session.result            # RunResult: status, reason, KPIs, verdicts

Whatever ends the run — the scenario's end, a stop request, Ctrl-C, a failure inside the
model, a bug — what was recorded is flushed and the folder gets ``run.json`` (status and
reason, from ``ending_of``, the one mapping), KPIs, verdicts and a report. Ctrl-C and a
``SimulationError`` are how runs end and are not re-raised; any other exception is a bug:
the folder is finished as ``failed`` and the exception propagates.

Inside the ``with`` block (in the main thread), SIGINT and SIGTERM request the stop
(``twin.run.signals``): the run ends after the current step and is finished as
``interrupted`` with the signal as its reason; a second signal exits at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from twin import __version__
from twin.config.errors import SimulationError
from twin.config.scenario import Scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.model.grid import Backend
from twin.results.kpi import KPI_COLUMNS, write_kpis
from twin.results.published import Row, compare_run, published_figures
from twin.results.reader import Results
from twin.results.report import PLOT_COLUMNS, write_plot, write_report
from twin.results.verdicts import Verdict, judge, verdicts_as_dicts
from twin.run.baseline import Baseline
from twin.run.loop import (
    Clock,
    FastClock,
    RunStats,
    SetpointSource,
    Sink,
    Stop,
    builtin_control,
    run_loop,
)
from twin.run.recorder import Recorder
from twin.run.signals import stop_on_signals

Status = Literal["completed", "interrupted", "failed", "recovered"]  # recovered: finished by `satwin finish`


@dataclass(frozen=True)
class Ending:
    """How a run ended: ``run.json``'s ``status`` and, unless it completed, its ``reason``."""

    status: Status
    reason: str | None = None

    def __str__(self) -> str:
        return self.status + (f": {self.reason}" if self.reason else "")


def ending_of(exc: BaseException | None, stats: RunStats, stop: threading.Event | None) -> Ending:
    """The one mapping from what ended a run's loop to how the run ended."""
    if isinstance(exc, KeyboardInterrupt):
        return Ending("interrupted", "Ctrl-C")
    if isinstance(exc, SimulationError):
        return Ending("failed", str(exc))
    if exc is not None:  # a bug; the folder is still finished, and the exception propagates
        return Ending("failed", f"{type(exc).__name__}: {exc}")
    if not stats.interrupted:
        return Ending("completed")
    if isinstance(stop, Stop):
        return Ending("failed" if stop.failed else "interrupted", stop.reason)
    return Ending("interrupted", "stop requested")


@dataclass
class RunResult:
    out_dir: Path
    status: Status
    stats: RunStats
    kpis: dict[str, Any]
    reason: str | None = None
    comparison: list[Row] | None = None  # beside the published figures, when the scenario asks
    verdicts: list[Verdict] = field(default_factory=list)
    lateness_ms: dict[str, float] = field(default_factory=dict)  # paced: p50/p99/max, overruns; lockstep: controller ms

    @property
    def passed(self) -> bool:
        return self.status == "completed" and all(v.passed for v in self.verdicts)

    @property
    def error(self) -> str | None:
        """Why the run failed (None unless it did)."""
        return self.reason if self.status == "failed" else None


def default_out_dir(scenario: Scenario, controller: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{scenario.name}-{controller}-{stamp}"


def open_recorder(twin: Twin, out_dir: Path, controller_label: str, extra_meta: dict[str, Any] | None = None) -> Recorder:
    """The results folder of a run of ``twin`` (``run.json`` says ``running`` until it is finished)."""
    scenario = twin.scenario
    site = scenario.site
    meta = {
        "satwin_version": __version__,
        "scenario": scenario.name,
        "description": scenario.description,
        "site": site.name,
        "controller": controller_label,
        "start": scenario.start.isoformat(),
        "step_s": scenario.step_s,
        "duration_s": scenario.duration_s,
        "seed": scenario.seed,
        "backend": twin.grid.backend_name,
        "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "bess_e_kwh": site.bess.e_kwh if site.bess else 0.0,
        "grid_kg_co2_per_kwh": site.emissions.grid_kg_co2_per_kwh,
        "export_cny_per_kwh": site.tariff.export_cny_per_kwh,
        **(extra_meta or {}),
    }
    return Recorder(out_dir, twin, meta)


class Session:
    """One run of ``twin`` into ``out_dir``, from an open folder to a finished one (see the module)."""

    def __init__(self, twin: Twin, out_dir: Path, controller_label: str, extra_meta: dict[str, Any] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.twin = twin
        self.out_dir = Path(out_dir)
        self.stop = stop if stop is not None else Stop()
        self.stats = RunStats()
        self.result: RunResult | None = None
        self.report = True  # plot and report.md at the end
        self._clock: Clock = FastClock()
        # verdicts that are not criteria on KPIs (the HIL bench: the controller's health), asked for
        # once the recording is closed
        self.more_verdicts: Callable[[], list[Verdict]] | None = None
        self.recorder = open_recorder(twin, self.out_dir, controller_label, extra_meta)

    @classmethod
    def start(cls, scenario: Scenario, out_dir: Path, controller_label: str, backend: Backend = "newton",
              extra_meta: dict[str, Any] | None = None, stop: threading.Event | None = None) -> Session:
        """Build the twin of ``scenario`` and open its results folder."""
        return cls(Twin(scenario, backend=backend), out_dir, controller_label, extra_meta, stop)

    def __enter__(self) -> Session:
        self._signals = contextlib.ExitStack()
        self._signals.enter_context(stop_on_signals(self._signalled))
        return self

    def _signalled(self, reason: str) -> None:
        if isinstance(self.stop, Stop):
            self.stop.request(reason)
        else:
            self.stop.set()

    def run(self, control: SetpointSource, sinks: Sequence[Sink] = (), clock: Clock | None = None,
            progress: Callable[[int, int], None] | None = None, record_lateness: bool = False) -> RunStats:
        """Step the twin to the scenario's end or until ``stop`` is set; every snapshot is recorded."""
        self._clock = clock or FastClock()
        run_loop(self.twin, control, [self.recorder, *sinks], clock=self._clock, progress=progress, stop=self.stop,
                 record_lateness=record_lateness, stats=self.stats)
        return self.stats

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:  # a signal while the folder is finished still ends the run at once when repeated
            self.result = self.finish(ending_of(exc, self.stats, self.stop))
        finally:
            self._signals.close()
        return isinstance(exc, (KeyboardInterrupt, SimulationError))  # mapped to the status: how runs end

    def finish(self, ending: Ending) -> RunResult:
        """Flush and close the recording, judge the criteria, write KPIs, verdicts, plot and report."""
        criteria = self.twin.scenario.criteria
        lateness = self.stats.lateness_summary_ms(self.twin.scenario.step_s / self._clock.speed)
        extra: dict[str, Any] = {"reason": ending.reason} if ending.reason else {}
        if lateness:
            extra["lateness"] = lateness
        pace = getattr(self._clock, "summary", None)  # the lockstep clock: the controller's time per step
        if pace is not None:
            extra["lockstep"] = lateness = pace()
        self.recorder.close(ending.status, wall_s=round(self.stats.wall_s, 3), steps=self.stats.steps, **extra)
        kpis, verdicts = write_outputs(self.out_dir, criteria, ending, report=self.report,
                                       more_verdicts=self.more_verdicts)
        return RunResult(self.out_dir, ending.status, self.stats, kpis, ending.reason, verdicts=verdicts,
                         lateness_ms=lateness)


def write_outputs(out_dir: Path, criteria: Sequence[str], ending: Ending, report: bool = True,
                  more_verdicts: Callable[[], list[Verdict]] | None = None) -> tuple[dict[str, Any], list[Verdict]]:
    """KPIs, verdicts and (with ``report``) plot and report of a closed recording (``satwin finish``
    uses it on a killed run's folder); ``more_verdicts`` adds those that are not criteria on KPIs."""
    results = Results(out_dir)
    results.timeseries(KPI_COLUMNS + PLOT_COLUMNS)  # one pass over the parts serves every reader below
    kpis = write_kpis(results)
    verdicts = judge(criteria, kpis, results) if kpis.get("steps") else []
    if ending.status != "completed" and (criteria or ending.status == "failed"):
        verdicts.append(Verdict(f"run completed ({ending})", math.nan, False))  # an unfinished run cannot pass
    if more_verdicts is not None:
        verdicts += more_verdicts()
    (Path(out_dir) / "verdicts.json").write_text(json.dumps(verdicts_as_dicts(verdicts), indent=2))
    if kpis.get("steps") and report:
        write_plot(results)
        write_report(results, kpis, verdicts)
    return kpis, verdicts


def run_scenario(scenario: Scenario, out_dir: Path, controller: str | None = None, backend: Backend = "newton",
                 clock: Clock | None = None, control: SetpointSource | None = None,
                 sinks: Sequence[Sink] = (), progress: Callable[[int, int], None] | None = None,
                 stop: threading.Event | None = None, report: bool = True) -> RunResult:
    """Run ``scenario`` to its end (or until interrupted) and finish its results folder.

    ``report=False`` leaves out plot and report (a second of matplotlib; a sweep's runs need neither).
    """
    controller = controller or scenario.controller
    # read once, now: a mistake in the published file is reported before a year's run, not after it
    published = published_figures(scenario) if scenario.compare is not None else None
    baseline = None
    try:
        with Session.start(scenario, out_dir, controller, backend, stop=stop) as session:
            session.report = report
            if scenario.compare is not None:
                baseline = Baseline(scenario, Path(out_dir), _kpis_of_run, backend)
            session.run(control or builtin_control(make_controller(controller, session.twin.site_info)),
                        sinks, clock=clock, progress=progress)
        result = session.result
        if baseline is not None and result.status == "completed":
            result.comparison = compare_run(scenario, out_dir, result.kpis, baseline, published)
    finally:
        if baseline is not None:
            baseline.cancel()
    return result


def _kpis_of_run(scenario: Scenario, out_dir: Path, backend: Backend) -> dict[str, Any]:
    """The KPIs of a plain run of ``scenario`` (the baseline of a year comparison).

    Its folder keeps the recording, KPIs and verdicts but no plot or report: drawing them was
    ~0.7 s at the end of a year's baseline, which the main run waits for (``satwin compare``
    overlays the two runs)."""
    return run_scenario(scenario, out_dir, backend=backend, report=False).kpis

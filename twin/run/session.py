"""A whole run, from a scenario to a finished results folder.

``run_scenario`` is what ``satwin run`` calls; ``satwin serve`` and the GUI use the same
pieces with another clock and setpoint source (``start_run`` / ``finish_run``). Whatever
ends the run — the scenario's end, Ctrl-C, a failure inside the model — what was recorded
is flushed and the folder gets KPIs and a report, with ``status`` saying how it ended.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin import __version__
from twin.config.errors import SimulationError
from twin.config.scenario import Scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.model.grid import Backend
from twin.results.kpi import write_kpis
from twin.results.published import Row, compare_run, published_figures
from twin.results.report import write_plot, write_report
from twin.results.verdicts import Verdict, judge, verdicts_as_dicts
from twin.run.baseline import Baseline
from twin.run.loop import (
    Clock,
    RunStats,
    SetpointSource,
    Sink,
    builtin_control,
    run_loop,
)
from twin.run.recorder import Recorder


@dataclass
class RunResult:
    out_dir: Path
    status: str
    stats: RunStats
    kpis: dict[str, Any]
    error: str | None = None
    comparison: list[Row] | None = None  # beside the published figures, when the scenario asks
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "completed" and all(v.passed for v in self.verdicts)


def default_out_dir(scenario: Scenario, controller: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{scenario.name}-{controller}-{stamp}"


def start_run(scenario: Scenario, out_dir: Path, controller_label: str, backend: Backend = "newton",
              extra_meta: dict[str, Any] | None = None) -> tuple[Twin, Recorder]:
    """Build the twin and open its results folder (``run.json`` says ``running``)."""
    twin = Twin(scenario, backend=backend)
    return twin, open_recorder(twin, out_dir, controller_label, extra_meta)


def open_recorder(twin: Twin, out_dir: Path, controller_label: str, extra_meta: dict[str, Any] | None = None) -> Recorder:
    """The results folder of a run of ``twin`` (``run.json`` says ``running`` until ``finish_run``)."""
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


def finish_run(out_dir: Path, recorder: Recorder, stats: RunStats, status: str,
               criteria: tuple[str, ...] = (), more_verdicts: Callable[[], list[Verdict]] | None = None,
               **extra: Any) -> tuple[dict[str, Any], list[Verdict]]:
    """Flush and close the recording, judge the criteria, write KPIs, verdicts, plot and report.

    ``more_verdicts`` adds verdicts that are not criteria on KPIs (the HIL bench: the
    controller's health), asked for once the recording is closed."""
    recorder.close(status, wall_s=round(stats.wall_s, 3), steps=stats.steps, **extra)
    kpis = write_kpis(out_dir)
    verdicts = judge(criteria, kpis, out_dir) if kpis.get("steps") else []
    if status != "completed" and criteria:  # an unfinished run cannot pass
        verdicts.append(Verdict(f"run completed (status: {status})", float("nan"), False))
    if more_verdicts is not None:
        verdicts += more_verdicts()
    (Path(out_dir) / "verdicts.json").write_text(json.dumps(verdicts_as_dicts(verdicts), indent=2))
    if kpis.get("steps"):
        write_plot(out_dir)
        write_report(out_dir, kpis, verdicts)
    return kpis, verdicts


def run_scenario(scenario: Scenario, out_dir: Path, controller: str | None = None, backend: Backend = "newton",
                 clock: Clock | None = None, control: SetpointSource | None = None,
                 sinks: Sequence[Sink] = (), progress: Callable[[int, int], None] | None = None,
                 stop: threading.Event | None = None) -> RunResult:
    """Run ``scenario`` to its end (or until interrupted) and finish its results folder."""
    controller = controller or scenario.controller
    # read once, now: a mistake in the published file is reported before a year's run, not after it
    published = published_figures(scenario) if scenario.compare is not None else None
    twin, recorder = start_run(scenario, out_dir, controller, backend)
    control = control or builtin_control(make_controller(controller, twin.site_info))
    baseline = Baseline(scenario, Path(out_dir), backend) if scenario.compare is not None else None
    stats = RunStats()
    status, error = "completed", None
    comparison = None
    try:
        try:
            stats = run_loop(twin, control, [recorder, *sinks], clock=clock, progress=progress, stop=stop)
            if stats.interrupted:
                status = "interrupted"
        except KeyboardInterrupt:
            status = "interrupted"
        except SimulationError as exc:
            status, error = "failed", str(exc)
        kpis, verdicts = finish_run(out_dir, recorder, stats, status, scenario.criteria,
                                    **({"error": error} if error else {}))
        if baseline is not None and status == "completed":
            comparison = compare_run(scenario, out_dir, kpis, baseline, published)
    finally:
        if baseline is not None:
            baseline.cancel()
    return RunResult(out_dir, status, stats, kpis, error, comparison, verdicts)

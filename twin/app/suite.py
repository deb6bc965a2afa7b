"""``satwin test``: run a folder of scenarios headless, judge their criteria, report as CI expects.

Scenarios run in separate processes (the standard library's process pool; ``--jobs``),
each into its own results folder. The suite writes ``summary.md`` (verdicts, KPIs side by
side, links to every plot), ``summary.json`` (the same for machines, also written beside
the JUnit file as ``<name>.json``) and, on request, JUnit XML with one test case per scenario.
The same seed gives the same verdicts whatever the number of jobs.

SIGINT or SIGTERM stops the suite the way it stops a run: scenarios not started are not
run, the running ones end after their current step with their folders finished
(``interrupted``), and the summary and JUnit cover what ran. Workers ignore the signals
between scenarios, so a Ctrl-C sent to the whole process group cannot break the pool; a
second signal kills the workers and exits at once.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.config.errors import ScenarioError
from twin.config.files import read_toml
from twin.config.scenario import load_scenario
from twin.results.verdicts import describe_windows, verdicts_as_dicts
from twin.run.loop import Stop
from twin.run.signals import stop_on_signals

NOT_RUN = "not run: the suite was stopped"
_SUITE_STOPPED = None  # in a worker: the suite's shared stop event (set by ``_init_worker``)


class _SuiteStop(Stop):
    """A run's stop that also ends the run when the suite is stopped (an event shared across processes)."""

    def __init__(self, shared) -> None:
        super().__init__()
        self._shared = shared

    def is_set(self) -> bool:
        if not super().is_set() and self._shared is not None and self._shared.is_set():
            self.reason, self.failed = "the suite was stopped", False  # not request(): it asks is_set()
            self.set()
        return super().is_set()


def _init_worker(shared) -> None:
    global _SUITE_STOPPED
    _SUITE_STOPPED = shared
    for sig in (signal.SIGINT, signal.SIGTERM):  # between scenarios; a run's session handles them itself
        signal.signal(sig, signal.SIG_IGN)

SUMMARY_KPIS = ("peak_grid_import_kw", "peak_15min_demand_kw", "minutes_over_contract", "unserved_ev_energy_pct",
                "bess_soc_min_pct", "bus_v_pu_min", "load_shed_kwh", "energy_cost_cny")


@dataclass
class ScenarioOutcome:
    name: str
    path: str
    out_dir: str
    status: str
    wall_s: float
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    kpis: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "completed" and self.error is None and all(v["passed"] for v in self.verdicts)


def collect(paths: list[Path]) -> list[Path]:
    """Scenario files with criteria, from files and (non-recursively) folders, in name order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise ScenarioError(path, None, "not found")
        candidates = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        found += [c for c in candidates if "criteria" in read_toml(c)]
    if not found:
        raise ScenarioError(paths[0] if paths else None, None, "no scenario files with [criteria] found")
    return found


def external_runner(name: str = "external-controller") -> Callable[..., Any]:
    """The runner for ``--controller-cmd``: serve over Modbus and start the vendor's controller.

    It lives in ``hil`` (Modbus is ``hil``'s business) and is found through the entry-point
    group ``satwin.runners``, so the twin never imports ``hil``.
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group="satwin.runners"):
        if entry.name == name:
            return entry.load()
    raise ScenarioError(None, "--controller-cmd", f"no {name} runner is installed (the hil package)")


def run_one(path: Path, out_dir: Path, overrides: dict[str, Any], controller_cmd: str | None,
            ocpp: dict[str, Any] | None = None, runner_options: dict[str, Any] | None = None) -> ScenarioOutcome:
    """One scenario, in a worker process; every failure becomes a failed outcome, not an exception.
    ``ocpp`` (``csms_cmd`` or ``ocpp_url``, ``version``): the chargers on OCPP against that CSMS.
    ``runner_options`` go to the external runner, the CSMS one too (``speed``, ``clock``,
    ``lockstep_timeout_s``, ``watchdog_timeout_s``)."""
    started = time.perf_counter()
    try:
        scenario = load_scenario(path).with_options(**overrides)
        stop = _SuiteStop(_SUITE_STOPPED)
        # the options given; the runner's defaults stand for the rest
        options = {key: value for key, value in (runner_options or {}).items() if value is not None}
        if ocpp:
            result = external_runner("csms")(scenario, out_dir, controller_cmd=controller_cmd, stop=stop, **ocpp,
                                             **options)
        elif controller_cmd:
            result = external_runner()(scenario, out_dir, controller_cmd, stop=stop, **options)
        else:
            from twin.run.session import run_scenario

            result = run_scenario(scenario, out_dir, stop=stop)
        return ScenarioOutcome(scenario.name, str(path), str(out_dir), result.status, time.perf_counter() - started,
                               verdicts_as_dicts(result.verdicts), result.kpis, result.error)
    except ScenarioError as exc:
        return ScenarioOutcome(path.stem, str(path), str(out_dir), "invalid", time.perf_counter() - started,
                               error=str(exc))
    except Exception as exc:  # a crash inside one scenario must not take the suite down
        return ScenarioOutcome(path.stem, str(path), str(out_dir), "failed", time.perf_counter() - started,
                               error=f"{type(exc).__name__}: {exc}")


def run_suite(paths: list[Path], out_dir: Path, jobs: int = 1, overrides: dict[str, Any] | None = None,
              controller_cmd: str | None = None,
              on_done: Callable[[ScenarioOutcome], None] | None = None,
              executor: Executor | None = None, ocpp: dict[str, Any] | None = None,
              stop: Stop | None = None, runner_options: dict[str, Any] | None = None) -> list[ScenarioOutcome]:
    """``executor``: run the scenarios there (a Dask cluster's, ``satwin test --scheduler``) rather
    than in a local process pool of ``jobs``; paths are then absolute, as a remote worker needs.
    ``ocpp``: the chargers connect to that CSMS (``satwin test --csms-cmd / --ocpp-csms``).
    ``stop`` (or SIGINT/SIGTERM) ends a local suite early (see the module). ``runner_options``:
    how an external controller is run (``run_one``)."""
    files = collect(paths)
    overrides = overrides or {}
    stop = stop if stop is not None else Stop()
    outcomes: list[ScenarioOutcome] = []
    if executor is not None:
        with executor as pool:
            futures = [pool.submit(run_one, path.resolve(), (out_dir / path.stem).resolve(),
                                   overrides, controller_cmd, ocpp, runner_options) for path in files]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                if on_done:
                    on_done(outcome)
    else:
        shared = multiprocessing.get_context().Event()
        with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_init_worker, initargs=(shared,)) as pool:
            futures = {pool.submit(run_one, path, out_dir / path.stem, overrides, controller_cmd, ocpp,
                                   runner_options): path
                       for path in files}

            def kill_workers() -> None:
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.kill()

            # the handler only raises flags; the loop below cancels (a future's lock is not for signal handlers)
            with stop_on_signals(stop.request, kill_workers):
                pending = set(futures)
                while pending:
                    if stop.is_set():
                        shared.set()
                        for future in pending:
                            future.cancel()  # the ones not started yet
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = _outcome_of(future, futures[future], out_dir)
                        outcomes.append(outcome)
                        if on_done:
                            on_done(outcome)
    order = {str(path.resolve() if executor else path): i for i, path in enumerate(files)}
    return sorted(outcomes, key=lambda o: order[o.path])


def _outcome_of(future, path: Path, out_dir: Path) -> ScenarioOutcome:
    if future.cancelled():
        return ScenarioOutcome(path.stem, str(path), str(out_dir / path.stem), "interrupted", 0.0, error=NOT_RUN)
    return future.result()


def write_junit(outcomes: list[ScenarioOutcome], path: Path, suite_name: str = "satwin") -> None:
    failures = sum(1 for o in outcomes if not o.passed and o.status in ("completed", "interrupted"))
    errors = sum(1 for o in outcomes if o.status in ("failed", "invalid"))
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(outcomes)), failures=str(failures),
                       errors=str(errors), time=f"{sum(o.wall_s for o in outcomes):.3f}")
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"{suite_name}.scenarios", name=o.name,
                             time=f"{o.wall_s:.3f}", file=o.path)
        if o.status in ("failed", "invalid"):
            ET.SubElement(case, "error", message=o.error or o.status).text = o.error
        elif not o.passed:
            message = "; ".join(_failure(v) for v in o.verdicts if not v["passed"])
            ET.SubElement(case, "failure", message=message or o.status).text = message
        ET.SubElement(case, "system-out").text = "\n".join(
            f"{'PASS' if v['passed'] else 'FAIL'} {v['criterion']} measured={v['measured']:.4g}" for v in o.verdicts)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _failure(verdict: dict[str, Any]) -> str:
    """A failed verdict in one line: criterion, measured value, when it was violated or why."""
    why = describe_windows([tuple(w) for w in verdict.get("windows", ())]) or verdict.get("reason", "")
    return f"{verdict['criterion']} (measured {verdict['measured']:.4g})" + (f": {why}" if why else "")


def write_json_summary(outcomes: list[ScenarioOutcome], path: Path, controller: str) -> Path:
    """The suite for machines: per scenario its status, verdicts (with windows), KPIs and folder."""
    document = {"controller": controller, "scenarios": len(outcomes), "passed": sum(o.passed for o in outcomes),
                "results": [{"name": o.name, "file": o.path, "out_dir": o.out_dir, "status": o.status,
                             "passed": o.passed, "wall_s": round(o.wall_s, 3), "error": o.error,
                             "verdicts": o.verdicts, "kpis": o.kpis} for o in outcomes]}
    path.write_text(json.dumps(document, indent=1, default=str))
    return path


def write_summary(outcomes: list[ScenarioOutcome], out_dir: Path, controller: str) -> Path:
    from twin.results.kpi import format_kpi

    passed = sum(o.passed for o in outcomes)
    lines = [f"# Scenario suite — controller: {controller}", "",
             f"**{passed} of {len(outcomes)} scenarios passed.**", "",
             "| scenario | verdict | failed criteria | wall s | plot |", "|---|---|---|---:|---|"]
    for o in outcomes:
        failed = "; ".join(f"`{_failure(v)}`" for v in o.verdicts if not v["passed"])
        verdict = "pass" if o.passed else f"**{o.status.upper() if o.status != 'completed' else 'FAIL'}**"
        plot = f"[plot]({Path(o.out_dir).name}/plot.png)" if o.kpis.get("steps") else ""
        lines.append(f"| {o.name} | {verdict} | {failed or (o.error or '')} | {o.wall_s:.1f} | {plot} |")
    lines += ["", "## Key figures side by side", "",
              "| scenario | " + " | ".join(format_kpi(k, 0)[0] for k in SUMMARY_KPIS) + " |",
              "|---|" + "---:|" * len(SUMMARY_KPIS)]
    for o in outcomes:
        cells = [format_kpi(k, o.kpis[k])[1] if k in o.kpis else "" for k in SUMMARY_KPIS]
        lines.append(f"| {o.name} | " + " | ".join(cells) + " |")
    path = out_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path

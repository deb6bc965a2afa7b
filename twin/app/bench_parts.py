"""One bench measurement in its own process: whole runs, timed part by part.

``satwin bench`` runs this file as a child process, once per checkout it compares (the
current one, and with ``--compare-ref`` an older one whose ``twin`` package comes first on
``PYTHONPATH``), so both sides start equally cold and each run's peak RSS is its own. This
file therefore imports nothing of ``twin`` at module level, and patches what it times by
name: a part the other checkout does not have is reported as missing, not as an error.

Parts are exclusive: time spent in a timed call nested inside another (SimPy inside the
step, the power flow inside the step) counts for the inner part only. The cost of the
timers themselves (~0.5 µs a timed call, a few a step) stays in the figures.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

# part -> (module, attribute path) of the calls timed as that part; "a|b": the first that exists
# (the run lifecycle moved from session functions into ``Session``: older checkouts have the former)
TIMED_CALLS = {
    "traffic/SimPy": [("simpy.core", "Environment.run")],
    "devices, snapshot": [("twin.model.core", "Twin.step")],  # the step besides the parts nested in it
    "power flow": [("twin.model.grid", "Grid.solve")],
    "sensors": [("twin.model.sensors", "Sensors.measure")],
    "controller": [("twin.model.core", "Twin.apply"),
                   ("twin.model.controllers.peak_shaving", "PeakShavingController.decide")],
    "recording": [("twin.run.recorder", "Recorder.on_snapshot"), ("twin.run.recorder", "Recorder.on_events"),
                  ("twin.run.recorder", "Recorder.flush")],
    "setup": [("twin.model.core", "Twin.__init__")],
    "finish (KPIs, plot, report)": [("twin.run.session", "Session.finish|finish_run")],
    "loop, other": [("twin.run.session", "run_loop")],  # the loop's own time: clock, sinks, progress
}
LOOP = "loop, other"
LOOP_PARTS = ("traffic/SimPy", "devices, snapshot", "power flow", "sensors", "controller", "recording", LOOP)


class PartTimer:
    """Wraps the calls of ``TIMED_CALLS`` with exclusive timers while active."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(TIMED_CALLS, 0.0)  # outside the run loop
        self.in_loop = dict.fromkeys(TIMED_CALLS, 0.0)  # inside it: what a step costs
        self.missing: list[str] = []
        self._stack: list[float] = []  # time spent in nested timed calls, per open call
        self._parts: list[str] = []  # the parts of the open calls
        self._restore: list[tuple[object, str, object]] = []

    def _wrap(self, part: str, function):
        stack, parts, clock = self._stack, self._parts, time.perf_counter

        def timed(*args, **kwargs):
            stack.append(0.0)
            parts.append(part)
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                nested = stack.pop()
                parts.pop()
                in_loop = part == LOOP or LOOP in parts
                (self.in_loop if in_loop else self.seconds)[part] += elapsed - nested
                if stack:
                    stack[-1] += elapsed

        return timed

    def __enter__(self) -> PartTimer:
        for part, calls in TIMED_CALLS.items():
            for module_name, path in calls:
                found = self._find(module_name, path)
                if found is None:
                    self.missing.append(f"{module_name}.{path}")
                    continue
                owner, name, original = found
                self._restore.append((owner, name, original))
                setattr(owner, name, self._wrap(part, original))
        return self

    @staticmethod
    def _find(module_name: str, paths: str):
        """(owner, attribute name, the attribute) of the first of ``paths`` that exists, or None."""
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        for path in paths.split("|"):
            owner = module
            *parents, name = path.split(".")
            try:
                for parent in parents:
                    owner = getattr(owner, parent)
                return owner, name, getattr(owner, name)
            except AttributeError:
                continue
        return None

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def timed_run(scenario_path: Path, out_dir: Path, duration_s: float | None, step_s: float | None) -> dict:
    from twin.config.scenario import load_scenario
    from twin.run.session import run_scenario

    scenario = load_scenario(scenario_path).with_options(duration_s=duration_s, step_s=step_s)
    with PartTimer() as timer:
        started = time.perf_counter()
        result = run_scenario(scenario, out_dir)
        wall_s = time.perf_counter() - started
    steps = max(result.stats.steps, 1)
    loop_s = result.stats.wall_s
    parts_us = {part: timer.in_loop[part] / steps * 1e6 for part in LOOP_PARTS}
    meta = json.loads((out_dir / "run.json").read_text())
    return {"wall_s": wall_s, "loop_s": loop_s, "steps": result.stats.steps, "status": result.status,
            "sim_s": scenario.duration_s, "parts_us": parts_us,
            "setup_s": timer.seconds["setup"], "finish_s": timer.seconds["finish (KPIs, plot, report)"],
            "timeseries_mb": folder_mb(out_dir / "timeseries"), "backend": meta.get("backend", "?"),
            "missing": timer.missing}


def main(argv: list[str]) -> None:
    """``bench_parts.py SCENARIO DURATION_S STEP_S [SCENARIO DURATION_S STEP_S ...]``: one JSON line.

    ``DURATION_S``/``STEP_S`` of ``-`` keep the scenario's own. Runs go in order; each run's
    peak RSS is the process's peak after it (so put the run whose peak matters first).
    """
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(0, len(argv), 3):
            path, duration, step = argv[i:i + 3]
            print(f"  {Path(path).name}: {duration} s at {step} s steps ...", file=sys.stderr, flush=True)
            run = timed_run(Path(path), Path(tmp) / f"run{i}", None if duration == "-" else float(duration),
                            None if step == "-" else float(step))
            run["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            runs.append(run)
    print(json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1:])

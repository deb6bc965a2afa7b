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
import importlib.util
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

# part -> (module, attribute path) of the calls timed as that part; "a|b": the first that exists.
# Older checkouts have a flat layout (``twin.core`` before ``twin.model.core``) and the run
# lifecycle as session functions (``finish_run``) before ``Session``.
CORE, GRID, SENSORS = "twin.model.core|twin.core", "twin.model.grid|twin.grid", "twin.model.sensors|twin.sensors"
RECORDER, SESSION = "twin.run.recorder|twin.record", "twin.run.session|twin.session"
TIMED_CALLS = {
    # SimPy's events: those inside a charging part, and those due at a part's start
    "traffic/SimPy": [("twin.model.clock", "SiteEnvironment.run_before"), (CORE, "Twin._process_due_events"),
                      ("simpy.core", "Environment.run")],
    "devices, snapshot": [(CORE, "Twin.step")],  # the step besides the parts nested in it
    "power flow": [(GRID, "Grid.solve")],
    "sensors": [(SENSORS, "Sensors.measure")],
    "controller": [(CORE, "Twin.apply"),
                   ("twin.model.controllers.peak_shaving|twin.controllers.peak_shaving", "PeakShavingController.decide")],
    "recording": [(RECORDER, "Recorder.on_snapshot"), (RECORDER, "Recorder.on_events"), (RECORDER, "Recorder.flush")],
    "setup": [(CORE, "Twin.__init__")],
    "finish (KPIs, plot, report)": [(SESSION, "Session.finish|finish_run")],
    "loop, other": [(SESSION, "run_loop")],  # the loop's own time: clock, sinks, progress
}
# calls counted (not timed) inside the run loop: why a long step costs what it does. A step
# charges in parts from event to event (``Twin._charge``), and each SimPy event is a ``step``.
COUNTED_CALLS = {"charging parts": (CORE, "Twin._charge"), "SimPy events": ("simpy.core", "Environment.step")}
LOOP = "loop, other"
LOOP_PARTS = ("traffic/SimPy", "devices, snapshot", "power flow", "sensors", "controller", "recording", LOOP)


class PartTimer:
    """Wraps the calls of ``TIMED_CALLS`` with exclusive timers while active."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(TIMED_CALLS, 0.0)  # outside the run loop
        self.in_loop = dict.fromkeys(TIMED_CALLS, 0.0)  # inside it: what a step costs
        self.missing: list[str] = []
        self.counts = dict.fromkeys(COUNTED_CALLS, 0)  # calls inside the run loop
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

    def _count(self, name: str, function):
        counts, parts = self.counts, self._parts

        def counted(*args, **kwargs):
            if LOOP in parts:
                counts[name] += 1
            return function(*args, **kwargs)

        return counted

    def _patch(self, module_name: str, path: str, wrap) -> None:
        found = self._find(module_name, path)
        if found is None:
            self.missing.append(f"{module_name}.{path}")
            return
        owner, name, original = found
        self._restore.append((owner, name, original))
        setattr(owner, name, wrap(original))

    def __enter__(self) -> PartTimer:
        # no call is both counted and timed: a count's cost falls in the part whose call is open
        for name, (module_name, path) in COUNTED_CALLS.items():
            self._patch(module_name, path, lambda original, name=name: self._count(name, original))
        for part, calls in TIMED_CALLS.items():
            for module_name, path in calls:
                self._patch(module_name, path, lambda original, part=part: self._wrap(part, original))
        return self

    @staticmethod
    def _find(module_names: str, paths: str):
        """(owner, attribute name, the attribute) of the first of ``paths`` that exists, or None."""
        module = import_first(module_names)
        if module is None:
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


def import_first(module_names: str):
    """The first of the ``|``-separated modules that this checkout has, or None.

    Only a module inside the ``twin`` package on the path counts: an editable install of
    another checkout lends its own submodules to any ``twin`` package (``twin.model.core``
    would come from there into an older checkout's flat ``twin``).
    """
    for name in module_names.split("|"):
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            continue
        if spec is None or (name.startswith("twin.") and not _inside_twin(spec.origin)):
            continue
        return importlib.import_module(name)
    return None


def _inside_twin(origin: str | None) -> bool:
    import twin

    return origin is not None and Path(origin).resolve().is_relative_to(Path(twin.__file__).resolve().parent)


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def timed_run(scenario_path: Path, out_dir: Path, duration_s: float | None, step_s: float | None) -> dict:
    load_scenario = import_first("twin.config.scenario|twin.scenario").load_scenario
    run_scenario = import_first(SESSION).run_scenario

    scenario = load_scenario(scenario_path).with_options(duration_s=duration_s, step_s=step_s)
    with PartTimer() as timer:
        started = time.perf_counter()
        result = run_scenario(scenario, out_dir)
        wall_s = time.perf_counter() - started
    steps = max(result.stats.steps, 1)
    loop_s = result.stats.wall_s
    parts_us = {part: timer.in_loop[part] / steps * 1e6 for part in LOOP_PARTS}
    per_step = {name: count / steps for name, count in timer.counts.items()}
    meta = json.loads((out_dir / "run.json").read_text())
    return {"wall_s": wall_s, "loop_s": loop_s, "steps": result.stats.steps, "status": result.status,
            "sim_s": scenario.duration_s, "parts_us": parts_us,
            "per_step": per_step,
            "setup_s": timer.seconds["setup"], "finish_s": timer.seconds["finish (KPIs, plot, report)"],
            "timeseries_mb": folder_mb(out_dir / "timeseries"), "folder_mb": folder_mb(out_dir), "backend": meta.get("backend", "?"),
            "missing": timer.missing}


def runpp_loop(scenario_path: Path, n_steps: int = 400) -> dict:
    """A plain pandapower ``runpp`` loop on the scenario's network, in this process right after
    its runs, so that the ratio to it is taken under the same load. The injections are those of
    ``n_steps`` one-minute steps of the twin from 06:00, uncontrolled (a busy, varied stretch)."""
    import numpy as np

    load_scenario = import_first("twin.config.scenario|twin.scenario").load_scenario
    Twin, Grid = import_first(CORE).Twin, import_first(GRID).Grid

    scenario = load_scenario(scenario_path).with_options(step_s=60.0)
    twin = Twin(scenario)
    samples = []
    for k in range(360 + n_steps):
        twin.step(60.0)
        if k >= 360:
            samples.append((twin._p_kw.copy(), twin._q_kvar.copy()))
    reference = Grid(scenario.site, twin.points, backend="pandapower")
    fast = Grid(scenario.site, twin.points, backend="newton")
    started = time.perf_counter()
    states = [reference.solve(p, q) for p, q in samples]
    ms = (time.perf_counter() - started) / len(samples) * 1e3
    worst_dv = max(float(np.abs(fast.solve(p, q).v_pu - ref.v_pu).max()) for (p, q), ref in zip(samples, states))
    return {"runpp_ms": ms, "max_dv_pu": worst_dv}


def _runs(argv: list[str]):
    """(scenario, duration_s, step_s) of each ``SCENARIO DURATION_S STEP_S`` triple (``-``: the scenario's own)."""
    for i in range(0, len(argv), 3):
        path, duration, step = argv[i:i + 3]
        yield Path(path), None if duration == "-" else float(duration), None if step == "-" else float(step)


def warm(argv: list[str]) -> None:
    """Build the twin of each run, and of a year's baseline, so that the measured runs find what
    twins keep between processes (the grid solver, the site profiles, compiled kernels) as
    every run after a scenario's first does."""
    load_scenario = import_first("twin.config.scenario|twin.scenario").load_scenario
    Twin = import_first(CORE).Twin
    baseline = import_first("twin.run.baseline")
    for path, duration_s, step_s in _runs(argv):
        scenario = load_scenario(path).with_options(duration_s=duration_s, step_s=step_s)
        Twin(scenario)
        if getattr(scenario, "compare", None) is not None and hasattr(baseline, "baseline_scenario"):
            Twin(baseline.baseline_scenario(scenario))


def main(argv: list[str]) -> None:
    """``bench_parts.py SCENARIO DURATION_S STEP_S [SCENARIO DURATION_S STEP_S ...]``: one JSON line.

    ``DURATION_S``/``STEP_S`` of ``-`` keep the scenario's own. Runs go in order; each run's
    peak RSS is the process's peak after it (so put the run whose peak matters first). Then a
    plain ``runpp`` loop on the first scenario's network (its figures join the first run's).
    """
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (path, duration_s, step_s) in enumerate(_runs(argv)):
            length = "its own length" if duration_s is None else f"{duration_s:g} s"
            step = "its own step" if step_s is None else f"{step_s:g} s steps"
            print(f"  {path.name}: {length} at {step} ...", file=sys.stderr, flush=True)
            run = timed_run(path, Path(tmp) / f"run{i}", duration_s, step_s)
            run["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            runs.append(run)
    print(f"  plain pandapower runpp loop on the network of {Path(argv[0]).name} ...", file=sys.stderr, flush=True)
    runs[0].update(runpp_loop(Path(argv[0])))
    print(json.dumps(runs))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--warm"]:
        warm(sys.argv[2:])
    else:
        main(sys.argv[1:])

"""``satwin bench``: where a step's time goes, against a plain pandapower loop, in one run.

Figures are ratios measured one after the other in the same bench, because this kind of
machine is noisy: absolute seconds vary from run to run, ratios much less. The runs
themselves go in child processes (``twin.app.bench_parts``), one per checkout, so that
``--compare-ref REF`` runs an older checkout exactly like this one, side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from twin.app import bench_parts
from twin.config.errors import ScenarioError, SimulationError

CHECKOUT = Path(__file__).resolve().parents[2]
REFERENCE_SCENARIO = CHECKOUT / "scenarios" / "holiday-peak-freight.toml"
YEAR_SCENARIO = CHECKOUT / "scenarios" / "year-hengqin.toml"
DAY_S = 86400.0


Run = tuple[Path, float | None, float | None]  # scenario, duration (None: its own), step (None: its own)


def measure_checkout(checkout: Path, runs: list[Run], label: str, echo) -> list[dict]:
    """The runs in a child process whose ``twin`` comes from ``checkout``."""
    echo(f"({label}) {checkout}")
    argv = [str(part if part is not None else "-") for run in runs for part in run]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]))
    echo("  building its twins first, so that the runs find what twins keep between processes ...")
    for mode in (["--warm"], []):
        done = subprocess.run([sys.executable, bench_parts.__file__, *mode, *argv], cwd=checkout, env=env,
                              stdout=subprocess.PIPE, stderr=None, text=True)
        if done.returncode != 0:
            raise SimulationError(f"the bench run of {label} failed (exit {done.returncode}); its output is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


class RefCheckout:
    """``git worktree add --detach`` of ``ref`` in a temporary folder, removed afterwards."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._tmp = tempfile.TemporaryDirectory(prefix="satwin-bench-")
        self.path = Path(self._tmp.name) / "checkout"

    def __enter__(self) -> Path:
        done = subprocess.run(["git", "-C", str(CHECKOUT), "worktree", "add", "--detach", str(self.path), self.ref],
                              capture_output=True, text=True)
        if done.returncode != 0:
            self._tmp.cleanup()
            raise ScenarioError(None, "--compare-ref", f"cannot check out {self.ref!r}: {done.stderr.strip()}")
        return self.path

    def __exit__(self, *exc) -> None:
        subprocess.run(["git", "-C", str(CHECKOUT), "worktree", "remove", "--force", str(self.path)],
                       capture_output=True)
        self._tmp.cleanup()


def _row(label: str, values: list[str]) -> str:
    return f"  {label:<34}" + "".join(f"{v:>16}" for v in values)


def _us_a_step(run: dict) -> float:
    return run["loop_s"] / max(run["steps"], 1) * 1e6


def report(sides: dict[str, list[dict]], echo) -> dict[str, dict]:
    """Print the figures side by side; returns them per side."""
    names = list(sides)
    figures = {}
    echo("")
    echo(_row("", names))
    day = {name: runs[0] for name, runs in sides.items()}
    for part in day[names[0]]["parts_us"]:
        echo(_row(f"µs a step: {part}", [f"{day[n]['parts_us'].get(part, float('nan')):.1f}" for n in names]))
    per_step = {n: _us_a_step(day[n]) for n in names}
    echo(_row("µs a step: whole loop", [f"{per_step[n]:.1f}" for n in names]))
    for n in names:
        run = day[n]
        figures[n] = {
            "day_1s_wall_s": run["wall_s"], "day_1s_realtime_x": run["sim_s"] / run["wall_s"],
            "runpp_ms": run["runpp_ms"], "speedup_vs_runpp": run["runpp_ms"] * 1e3 / per_step[n],
            "day_1s_timeseries_mb": run["timeseries_mb"], "day_1s_folder_mb": run.get("folder_mb", float("nan")),
            "day_1s_peak_rss_mb": run["peak_rss_mb"],
            "setup_s": run["setup_s"], "finish_s": run["finish_s"],
        }
        for key, run in zip(("day_1min", "year_1h"), sides[n][1:]):
            figures[n][f"{key}_wall_s"] = run["wall_s"]
            figures[n][f"{key}_finish_s"] = run["finish_s"]
        for key, run in zip(("day_1s", "day_1min", "year_1h"), sides[n]):
            figures[n][f"{key}_us_a_step"] = _us_a_step(run)
            for name, count in run["per_step"].items():  # this checkout's bench_parts counts on both sides
                figures[n][f"{key}_{name}"] = count
    sim_h = day[names[0]]["sim_s"] / 3600.0
    rows = [("wall s, {h:.3g} h at 1 s (recording)", "day_1s_wall_s", "{:.1f}"),
            ("  x real time", "day_1s_realtime_x", "{:,.0f}"),
            ("  plain runpp loop, ms a step", "runpp_ms", "{:.2f}"),
            ("  x a plain runpp loop (same process)", "speedup_vs_runpp", "{:.1f}"),
            ("  timeseries MB", "day_1s_timeseries_mb", "{:.1f}"),
            ("  results folder MB", "day_1s_folder_mb", "{:.1f}"),
            ("  peak RSS MB", "day_1s_peak_rss_mb", "{:.0f}"),
            ("  setup s / finish s", None, None),
            ("wall s, 24 h at 1 min", "day_1min_wall_s", "{:.2f}"),
            ("  of which finish (KPIs, plots)", "day_1min_finish_s", "{:.2f}"),
            ("wall s, year at 1 h with baseline", "year_1h_wall_s", "{:.1f}"),
            ("  of which finish (KPIs, plots)", "year_1h_finish_s", "{:.2f}")]
    # why a long step costs more: it charges in parts from event to event
    for key, label in (("day_1s", "1 s"), ("day_1min", "1 min"), ("year_1h", "1 h (the year)")):
        rows += [(f"at {label} steps: µs a step", f"{key}_us_a_step", "{:,.0f}"),
                 ("  charging parts a step", f"{key}_charging parts", "{:.2f}"),
                 ("  SimPy events a step", f"{key}_SimPy events", "{:.2f}")]
    for label, key, fmt in rows:
        if key is None:
            echo(_row(label, [f"{figures[n]['setup_s']:.2f} / {figures[n]['finish_s']:.2f}" for n in names]))
        elif key in figures[names[0]]:
            echo(_row(label.format(h=sim_h), [fmt.format(figures[n].get(key, float("nan"))) for n in names]))
    if len(names) == 2:
        a, b = names
        echo(_row(f"ratio {b} / {a} (step time)", ["", f"{per_step[a] / per_step[b]:.2f}x faster"]))
    echo("")
    for n in names:
        echo(f"backend ({n}): {day[n]['backend']}")
        if day[n]["missing"]:
            echo(f"  not timed in ({n}) (no such call): {', '.join(day[n]['missing'])}")
        echo(f"  largest |dV| of its fast path vs runpp over the runpp loop's steps: {day[n]['max_dv_pu']:.2e} pu")
    return figures


def bench_core(scenario_path: Path = REFERENCE_SCENARIO, echo=print, compare_ref: str | None = None,
               duration_s: float = DAY_S, year: bool = True) -> dict[str, dict]:
    """The bench: the reference day at 1 s and 1 min, the year at 1 h; per part, per checkout."""
    runs: list[Run] = [(scenario_path, duration_s, 1.0), (scenario_path, DAY_S, 60.0)]
    if year:
        runs.append((YEAR_SCENARIO, None, None))
    sides: dict[str, list[dict]] = {}
    if compare_ref is not None:
        with RefCheckout(compare_ref) as ref_path:
            # the reference's own scenario files, so that both sides run what their code reads
            ref_runs = [(ref_path / path.relative_to(CHECKOUT) if path.is_relative_to(CHECKOUT) else path, d, s)
                        for path, d, s in runs]
            sides[compare_ref] = measure_checkout(ref_path, ref_runs, compare_ref, echo)
    sides["this checkout"] = measure_checkout(CHECKOUT, runs, "this checkout", echo)
    return report(sides, echo)

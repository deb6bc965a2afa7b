"""``satwin bench``: simulated seconds per wall second, against a plain pandapower loop, in one run.

Figures are ratios measured in the same process one after the other, because this kind
of machine is noisy: absolute seconds vary from run to run, ratios much less.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from twin.config.scenario import load_scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.model.grid import Grid
from twin.run.loop import Stepper, builtin_control
from twin.run.session import run_scenario

REFERENCE_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "holiday-peak-freight.toml"


def _timed_run(scenario, out: Path):
    started = time.perf_counter()
    result = run_scenario(scenario, out)
    return time.perf_counter() - started, result


def _sample_injections(scenario, n_steps: int = 400) -> tuple[list, list[str]]:
    """Injections of ``n_steps`` one-minute steps from 06:00, a busy and varied stretch of the day."""
    twin = Twin(scenario.with_options(step_s=60.0))
    stepper = Stepper(twin, builtin_control(make_controller(scenario.controller, twin.site_info)))
    samples = []
    for k in range(360 + n_steps):
        stepper.step()
        if k >= 360:
            samples.append((twin._p_kw.copy(), twin._q_kvar.copy()))
    return samples, twin.points


def bench_core(scenario_path: Path = REFERENCE_SCENARIO, echo=print) -> dict[str, float]:
    scenario = load_scenario(scenario_path).with_options(duration_s=86400.0)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, step_s in (("1 s", 1.0), ("1 min", 60.0)):
            echo(f"running 24 h at {label} steps (holiday peak, peak-shaving, recording on) ...")
            wall_s, result = _timed_run(scenario.with_options(step_s=step_s), Path(tmp) / label.replace(" ", ""))
            figures[f"wall_s_{label}"] = wall_s
            figures[f"realtime_x_{label}"] = 86400.0 / wall_s
            echo(f"  24 h at {label}: {wall_s:.1f} s wall = {86400.0 / wall_s:,.0f}x real time "
                 f"({result.stats.steps} steps, {result.stats.steps / wall_s:,.0f} steps/s)")
    site = scenario.site
    injections, points = _sample_injections(scenario)
    reference = Grid(site, points, backend="pandapower")
    fast = Grid(site, points, backend="newton")
    echo(f"plain pandapower runpp loop on the same network, {len(injections)} recorded steps ...")
    started = time.perf_counter()
    states = [reference.solve(p, q) for p, q in injections]
    runpp_s = (time.perf_counter() - started) / len(injections)
    worst_dv = max(float(np.abs(fast.solve(p, q).v_pu - ref.v_pu).max()) for (p, q), ref in zip(injections, states))
    figures["runpp_ms_per_step"] = runpp_s * 1e3
    figures["runpp_realtime_x_1 s"] = 1.0 / runpp_s
    figures["speedup_vs_runpp"] = figures["realtime_x_1 s"] / figures["runpp_realtime_x_1 s"]
    figures["max_dv_pu_vs_runpp"] = worst_dv
    echo(f"  runpp: {runpp_s * 1e3:.2f} ms a step = {1.0 / runpp_s:,.0f}x real time at 1 s steps (power flow only)")
    echo("")
    echo(f"backend: {fast.backend_name}")
    echo(f"whole twin at 1 s steps vs plain runpp loop: {figures['speedup_vs_runpp']:.1f}x faster")
    echo(f"largest voltage difference, fast path vs runpp, over those steps: {worst_dv:.2e} pu")
    target = "met" if figures["wall_s_1 s"] < 60 and figures["speedup_vs_runpp"] >= 20 else "NOT met"
    echo(f"target (24 h at 1 s in < 60 s and >= 20x runpp): {target}")
    return figures

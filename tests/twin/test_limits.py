"""The site's [limits] during a run: events, KPIs, the report section (a 1,000 kVA transformer
for a 2.4 MW charging park, as a new user once modelled it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import simpy

from twin.config.scenario import load_scenario
from twin.config.site import Limits
from twin.model.events import EventLog
from twin.model.limits import LimitMonitor
from twin.results.reader import read_events, read_timeseries
from twin.run.session import run_scenario

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, max_loading_pct: int):
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    text = (ROOT / "examples" / "sites" / "my-service-area.toml").read_text()
    text = text.replace("sn_kva = 2500", "sn_kva = 1000").replace("max_loading_pct = 100",
                                                                     f"max_loading_pct = {max_loading_pct}")
    (sites / "my-service-area.toml").write_text(text)
    scenario_path = tmp_path / "my-holiday.toml"
    scenario_path.write_text((ROOT / "examples" / "my-holiday.toml").read_text())
    scenario = load_scenario(scenario_path).with_options(step_s=300.0, duration_s=12 * 3600.0, controller="none")
    out = tmp_path / f"out-{max_loading_pct}"
    return run_scenario(scenario, out), out


def test_an_overloaded_transformer_gives_events_kpis_and_a_report_section(tmp_path):
    result, out = _run(tmp_path, 100)
    ts = read_timeseries(out)
    loading = ts.column("trafo_loading_pct.T1").to_numpy()
    over = loading > 100
    assert over.any()
    assert result.kpis["minutes_over_loading_limit"] == over.sum() * 5.0
    assert result.kpis["worst_loading_element"] == "T1"
    assert result.kpis["worst_loading_pct"] == loading.max()
    events = read_events(out).to_pandas()
    starts = events[(events.kind == "limit_violation") & (events.device == "T1")]
    clears = events[(events.kind == "limit_cleared") & (events.device == "T1")]
    rising = np.flatnonzero(over & ~np.r_[False, over[:-1]])  # one event per excursion, at its first step's end
    assert list(starts.t_s) == list(ts.column("t_s").to_numpy()[rising])
    assert len(clears) == len(starts) - int(over[-1])  # a run that ends overloaded has no last clear
    closed_s = over[:rising[-1]].sum() * 300.0 if over[-1] else over.sum() * 300.0
    assert clears.value.sum() == closed_s
    report = (out / "report.md").read_text()
    assert "## Limits" in report and "| T1 | loading |" in report


def test_the_limits_of_the_site_file_are_the_ones_applied(tmp_path):
    result, out = _run(tmp_path, 400)
    assert result.kpis["minutes_over_loading_limit"] == 0.0
    events = read_events(out).to_pandas()
    assert not ((events.kind == "limit_violation") & (events.device == "T1")).any()
    assert "| T1 | loading |" not in (out / "report.md").read_text()


def test_the_quick_in_band_check_logs_what_the_element_masks_log():
    """``LimitMonitor.check`` skips its masks when plain min/max say every element is inside; a monitor
    that always runs them (the reference) logs the same events, on values at the limits, NaN and 0 included."""
    limits = Limits(v_min_pu=0.95, v_max_pu=1.05, max_loading_pct=100.0)
    env = simpy.Environment()
    quick, masks = EventLog(env), EventLog(env)
    names = ["b1", "b2", "b3"], ["l1", "l2"], ["t1"]
    fast, plain = LimitMonitor(limits, *names, quick), LimitMonitor(limits, *names, masks)
    rng = np.random.default_rng(16)
    for step in range(3000):
        v_pu = rng.choice([0.0, 0.9499999, 0.95, 1.0, 1.05, 1.0500001, np.nan], 3, p=[.05, .05, .1, .6, .1, .05, .05])
        loading = rng.choice([0.0, 50.0, 100.0, 100.0001, np.nan], 3, p=[.1, .6, .1, .1, .1])
        plain._any_out = True  # the reference runs the masks every step
        for monitor in (fast, plain):
            monitor.check(float(step), v_pu, loading[:2], loading[2:])
    logged = masks.drain()
    assert [e.kind for e in logged].count("limit_violation") > 100  # both paths were taken, often
    assert quick.drain() == logged


def _matrix_limit_figures(v: np.ndarray, loading: np.ndarray, minutes: np.ndarray, limits: dict) -> dict:
    """The figures as a matrix of every element computes them (what ``limit_kpis`` computed before
    it went element by element): the reference the column-by-column code must equal exactly."""
    live = v > 0
    outside = (live & ((v < limits["v_min_pu"]) | (v > limits["v_max_pu"]))).any(axis=1)
    over = (loading > limits["max_loading_pct"]).any(axis=1)
    k, j = np.unravel_index(np.argmin(np.where(live, v, np.inf)), v.shape)
    deviation = np.where(live, np.maximum(limits["v_min_pu"] - v, v - limits["v_max_pu"]), -np.inf)
    per_bus = [(float(minutes[deviation[:, i] > 0].sum()),
                float(v[np.argmax(np.abs(np.where(live[:, i], v[:, i] - 1.0, 0.0))), i]))
               for i in range(v.shape[1]) if live[:, i].any()]
    return {"outside": float(minutes[outside].sum()), "over": float(minutes[over].sum()), "min_at": (int(k), int(j)),
            "per_bus": per_bus}


def test_limit_figures_element_by_element_equal_the_matrix_of_all_elements():
    import datetime as dt

    import pyarrow as pa

    from twin.results.limits import element_limits, limit_kpis

    rng = np.random.default_rng(7)
    rows = 500
    v = (1.0 + rng.normal(0, 0.04, (rows, 5))).astype(np.float32)
    v[:, 2] = 0.0  # a bus de-energized all run: never low voltage, not listed
    v[100:200, 3] = 0.0  # one de-energized for a while
    v[50, 1] = v[50, 4] = v[v > 0].min() - np.float32(0.01)  # a tie for the lowest: the first bus of the first row wins
    loading = rng.uniform(20, 110, (rows, 3)).astype(np.float32)
    dt_s = np.full(rows, 60.0)
    table = pa.table({"t_s": np.cumsum(dt_s), "dt_s": dt_s,
                      **{f"v_pu.B{i}": v[:, i] for i in range(5)},
                      **{f"line_loading_pct.L{i}": loading[:, i] for i in range(2)},
                      "trafo_loading_pct.T1": loading[:, 2]})
    limits = {"v_min_pu": 0.95, "v_max_pu": 1.05, "max_loading_pct": 100.0}
    start = dt.datetime(2026, 10, 1)
    kpis = limit_kpis(table, limits, start)
    reference = _matrix_limit_figures(v, loading, dt_s / 60.0, limits)
    assert reference["outside"] > 0 and reference["over"] > 0  # the case has excursions of both kinds
    assert kpis["minutes_outside_voltage_band"] == reference["outside"]
    assert kpis["minutes_over_loading_limit"] == reference["over"]
    k, j = reference["min_at"]
    assert (k, j) == (50, 1)
    assert kpis["bus_v_pu_min_bus"] == "B1"
    assert kpis["bus_v_pu_min_at"] == (start + dt.timedelta(seconds=float(table.column("t_s")[k].as_py()))).isoformat()
    buses = [(e.minutes_outside, e.worst) for e in element_limits(table, limits) if e.kind == "voltage"]
    assert buses == reference["per_bus"] and len(buses) == 4

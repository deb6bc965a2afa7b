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

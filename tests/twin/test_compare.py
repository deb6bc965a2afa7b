"""The "Compared with the real site" table: figures and gaps computed from a run and its baseline."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SCENARIOS
from twin.compare import baseline_scenario, comparison_rows, simulated_figures
from twin.scenario import load_scenario
from twin.session import run_scenario


def test_gap_is_relative_to_the_published_figure():
    rows = comparison_rows({"pv_yield_mwh": 110.0, "grid_import_mwh": 5.0},
                           {"pv_yield_mwh": {"value": 100, "source": "s", "note": "n"}})
    pv, grid = rows
    assert pv.published == 100 and pv.gap_pct == pytest.approx(10.0) and pv.source == "s"
    assert grid.published is None and grid.gap_pct is None


def test_savings_and_co2_come_from_the_baseline():
    run = {"pv_energy_kwh": 1000.0, "pv_self_consumption_pct": 80.0, "self_sufficiency_pct": 50.0,
           "energy_imported_kwh": 300.0, "energy_exported_kwh": 200.0, "energy_cost_cny": 150.0}
    base = {"energy_imported_kwh": 1100.0, "energy_exported_kwh": 0.0, "energy_cost_cny": 700.0}
    figures = simulated_figures(run, base, kwp=2.0, kg_co2_per_kwh=0.5)
    assert figures["savings_cny"] == pytest.approx(550.0)
    assert figures["co2_avoided_t"] == pytest.approx((1100 - 100) * 0.5 / 1000)
    assert figures["pv_specific_kwh_per_kwp"] == pytest.approx(500.0)


def test_baseline_drops_pv_and_storage_only():
    scenario = load_scenario(SCENARIOS / "year-xianshan.toml")
    base = baseline_scenario(scenario)
    assert base.site.pv == () and base.site.bess is None and base.compare is None
    assert base.site.loads == scenario.site.loads and base.seed == scenario.seed


def test_a_short_run_writes_the_table(tmp_path):
    scenario = load_scenario(SCENARIOS / "year-xianshan.toml").with_options(duration_s=2 * 86400)
    result = run_scenario(scenario, tmp_path)
    assert result.status == "completed"
    kpis = json.loads((tmp_path / "kpi.json").read_text())
    base = json.loads((tmp_path / "baseline" / "kpi.json").read_text())
    rows = {row.metric: row for row in result.comparison}
    assert rows["savings_cny"].simulated == pytest.approx(base["energy_cost_cny"] - kpis["energy_cost_cny"])
    assert rows["savings_cny"].gap_pct == pytest.approx(100 * (rows["savings_cny"].simulated - 370000) / 370000)
    assert rows["pv_yield_mwh"].simulated == pytest.approx(kpis["pv_energy_kwh"] / 1000)
    assert base["pv_energy_kwh"] == 0
    assert json.loads((tmp_path / "compare.json").read_text())[0]["metric"] == "pv_yield_mwh"
    assert "## Compared with the real site" in (tmp_path / "report.md").read_text()

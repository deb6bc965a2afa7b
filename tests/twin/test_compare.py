"""The "Compared with the real site" table: figures and gaps computed from a run and its baseline."""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import SCENARIOS
from twin.config.errors import ScenarioError
from twin.config.faults import Fault
from twin.config.scenario import load_scenario
from twin.config.sensors import SensorModel
from twin.config.site import PvDegradation
from twin.results.published import (
    comparison_rows,
    published_figures,
    simulated_figures,
    with_lifetime_figures,
)
from twin.run.baseline import baseline_scenario
from twin.run.session import run_scenario


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
    assert rows["savings_cny"].published is None  # two days are not set beside a yearly figure
    assert rows["pv_yield_mwh"].simulated == pytest.approx(kpis["pv_energy_kwh"] / 1000)
    assert base["pv_energy_kwh"] == 0
    assert json.loads((tmp_path / "compare.json").read_text())[0]["metric"] == "pv_yield_mwh"
    assert "## Compared with the real site" in (tmp_path / "report.md").read_text()


def test_lifetime_factor_is_the_mean_of_a_linear_warranty_curve():
    ageing = PvDegradation(first_year_pct=2.0, per_year_pct=0.5)
    assert ageing.lifetime_factor(1) == pytest.approx(0.99)  # half the first-year loss, on average
    # mid-year losses: year 1: 1 %, year 2: 2 + 0.5 * 0.5 = 2.25 %, year 3: 2 + 0.5 * 1.5 = 2.75 %
    assert ageing.lifetime_factor(3) == pytest.approx(1 - (1 + 2.25 + 2.75) / 3 / 100)
    assert PvDegradation(first_year_pct=0, per_year_pct=0).lifetime_factor(30) == 1.0
    with pytest.raises(ValueError):
        ageing.lifetime_factor(0)


def test_a_lifetime_figure_follows_its_first_year_figure():
    published = {"pv_yield_lifetime_mwh": {"value": 90, "life_years": 3}}
    ageing = PvDegradation(first_year_pct=2.0, per_year_pct=0.5)
    figures = with_lifetime_figures({"pv_yield_mwh": 100.0, "grid_import_mwh": 5.0}, published, ageing)
    assert list(figures) == ["pv_yield_mwh", "pv_yield_lifetime_mwh", "grid_import_mwh"]
    assert figures["pv_yield_lifetime_mwh"] == pytest.approx(100.0 * ageing.lifetime_factor(3))
    assert "pv_specific_lifetime_kwh_per_kwp" not in with_lifetime_figures({"pv_specific_kwh_per_kwp": 1.0},
                                                                         published, ageing)


def with_published_figure(tmp_path, figure_toml: str):
    """The Hengqin year scenario set beside one figure written to a published file of its own."""
    (tmp_path / "published.toml").write_text(f'[x]\nsite = "s"\n[[x.figures]]\n{figure_toml}')
    scenario = load_scenario(SCENARIOS / "year-hengqin.toml")
    ref = scenario.compare.model_copy(update={"published": str(tmp_path / "published.toml"), "key": "x"})
    return scenario.model_copy(update={"compare": ref})


def test_a_lifetime_figure_without_its_years_names_the_field(tmp_path):
    scenario = with_published_figure(tmp_path, 'metric = "pv_yield_lifetime_mwh"\nvalue = 6550\n')
    with pytest.raises(ScenarioError, match=r"x\.figures\[0\]\.life_years: a lifetime average needs"):
        published_figures(scenario)


def test_an_interrupted_run_stops_its_baseline(tmp_path):
    scenario = load_scenario(SCENARIOS / "year-xianshan.toml")  # its baseline alone takes ~15 s or more
    stop = threading.Event()
    stop.set()  # interrupted before the first step
    result = run_scenario(scenario, tmp_path, stop=stop)
    assert result.status == "interrupted" and result.comparison is None
    # the year-long baseline was stopped, not waited for (its process is joined when the run returns):
    # it never got to the end of its year, nor to its KPIs, which it writes last
    baseline_meta = tmp_path / "baseline" / "run.json"
    assert not baseline_meta.exists() or json.loads(baseline_meta.read_text())["status"] == "running"
    assert not (tmp_path / "baseline" / "kpi.json").exists()
    assert not (tmp_path / "compare.json").exists()


def test_a_broken_published_file_stops_the_run_before_it_starts(tmp_path):
    scenario = with_published_figure(tmp_path, 'metric = "pv_yeild_mwh"\nvalue = 1\n')
    with pytest.raises(ScenarioError, match=r"x\.figures\[0\]\.metric: unknown metric 'pv_yeild_mwh'"):
        run_scenario(scenario, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was run or recorded


@pytest.mark.parametrize("figure_toml, message", [
    ('metric = "pv_yield_mwh"\n', r"figures\[0\]\.value: expected a number, got None"),
    ('metric = "pv_yield_mwh"\nvalue = "6,550"\n', r"figures\[0\]\.value: expected a number, got '6,550'"),
    ('metric = "pv_yield_lifetime_mwh"\nvalue = 1\nlife_years = true\n', r"figures\[0\]\.life_years: .* got True"),
    ('metric = "pv_yield_mwh"\nvalue = 1\n[[x.figures]]\nmetric = "pv_yield_mwh"\nvalue = 2\n',
     r"figures\[1\]\.metric: 'pv_yield_mwh' is already given"),
])
def test_malformed_published_figures_name_the_field(tmp_path, figure_toml, message):
    with pytest.raises(ScenarioError, match=message):
        published_figures(with_published_figure(tmp_path, figure_toml))


def test_figures_written_as_a_table_not_a_list_are_refused(tmp_path):
    scenario = with_published_figure(tmp_path, "")
    (tmp_path / "published.toml").write_text('[x]\nsite = "s"\n[x.figures]\nmetric = "pv_yield_mwh"\n')
    with pytest.raises(ScenarioError, match=r"x\.figures: expected a list of figures"):
        published_figures(scenario)


def test_baseline_leaves_out_faults_and_sensors_on_pv_and_storage():
    scenario = load_scenario(SCENARIOS / "year-hengqin.toml")
    site = scenario.site
    faults = (Fault(kind="pv_trip", device=site.pv[0].name, start_s=3600, duration_s=3600),
              Fault(kind="bess_trip", device=site.bess.name, start_s=3600, duration_s=3600),
              Fault(kind="utility_outage", start_s=7200, duration_s=600))
    sensors = (SensorModel(point=f"{site.pv[0].name}.p_kw", bias=-10.0), SensorModel(point="grid_p_kw", delay_s=5.0))
    base = baseline_scenario(scenario.model_copy(update={"faults": faults, "sensors": sensors}))
    assert [f.kind for f in base.faults] == ["utility_outage"]
    assert [m.point for m in base.sensors] == ["grid_p_kw"]


def test_a_run_shorter_than_a_year_is_not_set_beside_yearly_figures(tmp_path):
    scenario = load_scenario(SCENARIOS / "year-hengqin.toml").with_options(duration_s=3 * 86400)
    result = run_scenario(scenario, tmp_path)
    assert result.comparison and all(row.published is None and row.gap_pct is None for row in result.comparison)
    assert "covers 3 days, not a year" in (tmp_path / "report.md").read_text()

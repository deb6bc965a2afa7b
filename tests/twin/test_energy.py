"""The energy balance of a run closes, with the change in stored battery energy in it."""

from __future__ import annotations

import math

import pytest

from twin.results.reader import read_timeseries
from twin.run.session import run_scenario


@pytest.fixture(scope="module")
def shaved(holiday, tmp_path_factory):
    scenario = holiday.with_options(step_s=60.0, duration_s=8 * 3600.0, controller="peak-shaving")
    out = tmp_path_factory.mktemp("energy") / "run"
    return run_scenario(scenario, out), out, scenario


def test_the_balance_closes_with_the_change_in_stored_energy(shaved):
    result, out, scenario = shaved
    k = result.kpis
    assert abs(k["energy_balance_residual_kwh"]) < 1e-6 * k["energy_imported_kwh"]
    bess = scenario.site.bess
    soc_end = read_timeseries(out, ("bess_soc_pct",)).column("bess_soc_pct").to_numpy()[-1]
    assert k["bess_stored_change_kwh"] == pytest.approx((soc_end - bess.soc_init_pct) / 100 * bess.e_kwh)
    assert k["bess_stored_change_kwh"] != 0.0  # the controller moved the battery
    # stored energy change + battery losses = what the battery took from the site, net
    discharged_net_kwh = -k["bess_stored_change_kwh"] - k["bess_losses_kwh"]
    assert k["bess_losses_kwh"] > 0
    eta = math.sqrt(bess.round_trip_eff_pct / 100)
    delta = k["bess_stored_change_kwh"]
    expected = k["energy_imported_kwh"] - (delta * eta if delta > 0 else delta / eta)
    assert k["energy_imported_soc_corrected_kwh"] == pytest.approx(expected)
    assert discharged_net_kwh != 0
    assert k["losses_kwh"] == pytest.approx(k["site_network_losses_kwh"] + k["feeder_losses_kwh"])


def test_connector_losses_follow_the_efficiency_of_each_group(shaved):
    result, out, scenario = shaved
    ts = read_timeseries(out, ("dt_s", "charger_p_kw."))
    hours = ts.column("dt_s").to_numpy() / 3600
    expected = 0.0
    for group in scenario.site.chargers:
        for i in range(group.count):
            expected += (1 - group.efficiency_pct / 100) * (ts.column(f"charger_p_kw.{group.name}_{i + 1}").to_numpy()
                                                            * hours).sum()
    assert result.kpis["charger_losses_kwh"] == pytest.approx(expected) and expected > 0


def test_the_report_states_the_definitions(shaved):
    report = (shaved[1] / "report.md").read_text()
    assert "## Energy balance" in report
    assert "**Self-sufficiency** = 1 − grid import / site consumption" in report
    assert "Grid import, corrected to equal start and end SoC" in report

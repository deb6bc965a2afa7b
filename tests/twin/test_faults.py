"""Every fault kind, asserted by its effect on the snapshot (and cleared again afterwards)."""

from __future__ import annotations

import pytest

from tests.conftest import run_twin
from twin.config.errors import ScenarioError
from twin.config.faults import Fault


@pytest.fixture()
def midday(holiday):
    """From 11:00 (PV up, chargers busy) at 10 s steps."""
    return holiday.with_options(step_s=10.0, duration_s=13 * 3600.0)


def _run_with(scenario, faults, until_s, controller="peak-shaving", events=None):
    return run_twin(scenario, controller, steps=int(round(until_s / scenario.step_s)), faults=faults, events=events)


def _at(snaps, t_s):
    return next(s for s in snaps if s.t_s >= t_s)


H = 3600.0


def test_pv_trip_and_clear(midday):
    events = []
    twin, snaps = _run_with(midday, [Fault(kind="pv_trip", device="pv_roof", start_s=11 * H, duration_s=H)], 12.5 * H,
                            events=events)
    i = twin.pv.names.index("pv_roof")
    during, after = _at(snaps, 11.5 * H), _at(snaps, 12.2 * H)
    assert during.pv_p_kw[i] == 0.0 and during.pv_available_kw[i] > 100
    assert after.pv_p_kw[i] > 100
    kinds = [e.kind for e in events]
    assert "fault" in kinds and "fault_cleared" in kinds


def test_bess_trip_and_derate(midday):
    faults = [Fault(kind="bess_derate", device="bess", start_s=0, duration_s=12 * H, derate_pct=75),
              Fault(kind="bess_trip", device="bess", start_s=12 * H, duration_s=H)]
    twin, snaps = _run_with(midday, faults, 12.5 * H)
    assert max(abs(s.bess_p_kw) for s in snaps if s.t_s < 12 * H) <= 0.25 * 3200 + 1e-6
    tripped = _at(snaps, 12.2 * H)
    assert tripped.bess_p_kw == 0.0 and tripped.bess_state == 3


def test_charger_fault_takes_connectors_out_of_the_queue(midday):
    fault = Fault(kind="charger_fault", device="car_dc", start_s=10 * H, duration_s=2 * H)
    twin, snaps = _run_with(midday, [fault], 12.5 * H)
    slots = twin.connector_slots("car_dc")
    during = [s for s in snaps if 10 * H < s.t_s < 12 * H]
    assert all(s.charger_p_kw[slots].sum() == 0.0 for s in during)
    assert max(s.queue_len[0] for s in during) > 3  # cars queue (and balk) while their chargers are down
    assert _at(snaps, 12.4 * H).charger_p_kw[slots].sum() > 0


def test_transformer_outage_deenergizes_what_it_feeds(midday):
    twin, snaps = _run_with(midday, [Fault(kind="transformer_outage", device="T_building", start_s=11 * H,
                                           duration_s=H)], 12.5 * H)
    bus = twin.grid.bus_names.index("lv_building")
    during = _at(snaps, 11.5 * H)
    assert during.v_pu[bus] == 0.0 and during.load_p_kw == 0.0 and during.load_shed_kw > 100
    assert during.trafo_loading_pct[twin.grid.trafo_names.index("T_building")] == 0.0
    assert _at(snaps, 12.2 * H).v_pu[bus] > 0.9


def test_utility_outage_islands_on_the_battery_and_sheds_what_it_cannot_carry(midday):
    twin, snaps = _run_with(midday, [Fault(kind="utility_outage", start_s=11 * H, duration_s=H)], 12.5 * H)
    during = [s for s in snaps if 11 * H < s.t_s <= 12 * H]
    for s in during:
        assert s.islanded and s.grid_p_kw == 0.0 and s.slack_p_kw == 0.0
        # the battery is the source: it balances the island, losses included
        assert s.bess_p_kw + s.pv_p_kw.sum() == pytest.approx(s.load_p_kw + s.ev_p_kw + s.losses_kw, abs=1e-3)
        assert s.bess_p_kw <= 3200 * 1.01
        assert 0.9 < s.v_pu.min() and s.v_pu.max() < 1.1
    assert min(s.bess_soc_pct for s in during) < during[0].bess_soc_pct  # it discharged
    assert not _at(snaps, 12.2 * H).islanded and _at(snaps, 12.2 * H).grid_p_kw > 0


def test_utility_outage_without_storage_is_a_blackout(midday):
    site = midday.site.model_copy(update={"bess": None})
    scenario = midday.model_copy(update={"site": site})
    _, snaps = _run_with(scenario, [Fault(kind="utility_outage", start_s=11 * H, duration_s=H)], 11.5 * H, "none")
    s = snaps[-1]
    assert s.v_pu.max() == 0.0 and s.ev_p_kw == 0.0 and s.load_shed_kw > 100 and s.pv_p_kw.sum() == 0.0


def test_voltage_sag_lowers_every_bus(midday):
    _, snaps = _run_with(midday, [Fault(kind="voltage_sag", start_s=11 * H, duration_s=600, sag_pu=0.85)], 11.3 * H)
    before, during = _at(snaps, 10.9 * H), _at(snaps, 11.05 * H)
    assert during.v_pu.max() < 0.88 < before.v_pu.min()


def test_comms_loss_names_the_silent_device(midday):
    _, snaps = _run_with(midday, [Fault(kind="comms_loss", device="meter", start_s=11 * H, duration_s=60)], 11.1 * H)
    assert _at(snaps, 11 * H + 30).comms_lost == frozenset({"meter"})
    assert snaps[-1].comms_lost == frozenset()


def test_a_fault_on_an_unknown_device_is_a_scenario_error(tmp_path):
    from tests.conftest import HOLIDAY
    from twin.config.scenario import load_scenario

    path = tmp_path / "sites"
    path.mkdir()
    (path / "freight-corridor.toml").write_text((HOLIDAY.parent / "sites" / "freight-corridor.toml").read_text())
    scenario = tmp_path / "s.toml"
    scenario.write_text(HOLIDAY.read_text() + '\n[[faults]]\nkind = "pv_trip"\ndevice = "pv_moon"\nstart_s = "1h"\n'
                        'duration_s = "10min"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    assert caught.value.field == "faults[0].device" and "pv_roof" in caught.value.message

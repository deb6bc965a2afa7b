"""SunSpec points controllers poll first, read with pysunspec2's own client over a real socket:
energy counters against the twin's integrated energy, AC quantities with their scale factors,
operating state and events from faults, and the model 123 revert timer."""

from __future__ import annotations

import math

import pytest
from hil_rig import evening_scenario, make_rig
from test_hil_sunspec_watchdog import scan

from hil.maps.electrical import NOMINAL_HZ
from twin.config.faults import Fault

STEP_S = 5.0


@pytest.fixture
def noon_rig(tmp_path):
    rig, server = make_rig(tmp_path, scenario=evening_scenario(duration_s=4 * 3600, step_s=STEP_S, hour=12))
    rig.step()
    yield rig
    server.stop()
    rig.bridge.close()


def _beat(rig):
    """Keep the watchdog quiet: a heartbeat through the bridge, as a controller would write it."""
    heartbeat = rig.reg_map.point("site", "heartbeat")
    rig.bridge.write(heartbeat.unit_id, heartbeat.address, [1], "test")


def _resolution_wh(point) -> float:
    """Half a count of the counter's register: the rounding a scale factor allows."""
    return 0.5 * 10.0 ** point.model.points["TotWh_SF" if "TotWh_SF" in point.model.points else "WH_SF"].value


def test_energy_counters_equal_the_integrated_energy_through_a_comms_loss(noon_rig):
    rig = noon_rig
    rig.twin.schedule_fault(Fault(kind="comms_loss", device="meter", start_s=rig.twin.env.now + 60, duration_s=300))
    rig.twin.schedule_fault(Fault(kind="comms_loss", device="pv_canopy", start_s=rig.twin.env.now + 60,
                                  duration_s=300))
    snaps = [rig.snap]  # the fixture's first step
    for _ in range(240):  # 20 min, 5 of them with the meter and an inverter silent
        _beat(rig)
        snaps.append(rig.step())
    assert rig.snap.comms_lost == frozenset()
    import_wh = sum(max(s.grid_p_kw, 0.0) * 1e3 * s.dt_s / 3600 for s in snaps)
    export_wh = sum(max(-s.grid_p_kw, 0.0) * 1e3 * s.dt_s / 3600 for s in snaps)
    pv_wh = sum(float(s.pv_p_kw[0]) * 1e3 * s.dt_s / 3600 for s in snaps)
    assert pv_wh > 1e5  # noon: the canopy produced, so the 0.1 % is a real check

    meter = scan(rig.port, rig.reg_map.device("meter").unit_id).models[203][0]
    pv = scan(rig.port, rig.reg_map.device("pv_canopy").unit_id).models[103][0]
    for point, wh in ((meter.TotWhImp, import_wh), (meter.TotWhExp, export_wh), (pv.WH, pv_wh)):
        assert point.cvalue == pytest.approx(wh, rel=1e-3, abs=_resolution_wh(point)), point.pdef["name"]
    assert import_wh + export_wh > 1e5


def test_ac_points_carry_the_twin_values_with_their_scale_factors(noon_rig):
    rig = noon_rig
    rig.step(3)
    snap, measured = rig.snap, rig.snap.measured
    meter = scan(rig.port, rig.reg_map.device("meter").unit_id).models[203][0]
    assert meter.Hz.cvalue == NOMINAL_HZ and meter.Hz_SF.value == -2
    p_w, q_var = measured.grid_p_kw * 1e3, measured.grid_q_kvar * 1e3
    s_va = math.hypot(p_w, q_var)
    w_step = 10.0 ** meter.W_SF.value
    assert meter.W.cvalue == pytest.approx(p_w, abs=w_step)
    assert meter.VA.cvalue == pytest.approx(s_va, abs=w_step)
    assert meter.PF.cvalue == pytest.approx(abs(p_w) / s_va * 100.0, abs=0.1)
    v_ph = measured.poc_v_pu * rig.twin.site.utility.vn_kv * 1e3 / math.sqrt(3)
    assert meter.PhVphA.cvalue == pytest.approx(v_ph, abs=10.0 ** meter.V_SF.value)
    assert meter.AphB.cvalue == pytest.approx(s_va / (3 * v_ph), abs=10.0 ** meter.A_SF.value)
    assert sum(getattr(meter, f"Wph{p}").cvalue for p in "ABC") == pytest.approx(p_w, abs=3 * w_step)

    pv = scan(rig.port, rig.reg_map.device("pv_canopy").unit_id).models[103][0]
    assert pv.W.cvalue == pytest.approx(snap.pv_p_kw[0] * 1e3, abs=10.0 ** pv.W_SF.value)
    assert pv.Hz.cvalue == NOMINAL_HZ and pv.PF.cvalue == 100.0 and pv.VAr.cvalue == 0
    assert pv.St.value == 4  # MPPT: producing, not limited
    v_pv = snap.v_pu[rig.twin.grid.bus_names.index(rig.twin.site.pv[0].bus)] * 400.0 / math.sqrt(3)
    assert pv.PhVphA.cvalue == pytest.approx(v_pv, abs=10.0 ** pv.V_SF.value)
    assert pv.PPVphAB.cvalue == pytest.approx(v_pv * math.sqrt(3), abs=10.0 ** pv.V_SF.value)


def test_operating_state_and_events_follow_the_faults(noon_rig):
    rig = noon_rig
    rig.twin.schedule_fault(Fault(kind="pv_trip", device="pv_canopy", start_s=rig.twin.env.now + 1, duration_s=60))
    rig.twin.schedule_fault(Fault(kind="bess_trip", device="bess", start_s=rig.twin.env.now + 1, duration_s=60))
    _beat(rig)
    rig.step(2)
    pv = scan(rig.port, rig.reg_map.device("pv_canopy").unit_id).models[103][0]
    assert pv.St.value == 7  # FAULT
    assert pv.Evt1.value & (1 << 2)  # AC_DISCONNECT
    bess = scan(rig.port, rig.reg_map.device("bess").unit_id)
    assert bess.models[103][0].St.value == 7
    battery = bess.models[802][0]
    assert battery.State.value == 99  # FAULT
    assert battery.WDisChaRteMax.cvalue == 0.0
    roof = scan(rig.port, rig.reg_map.device("pv_roof").unit_id).models[103][0]
    assert roof.St.value == 4


@pytest.fixture
def pv_controls(tmp_path):
    """A 1 s-step noon rig and pysunspec2's model 123 of the canopy inverter."""
    rig, server = make_rig(tmp_path, scenario=evening_scenario(duration_s=600, step_s=1.0, hour=12))
    rig.step()
    yield rig, scan(rig.port, rig.reg_map.device("pv_canopy").unit_id).models[123][0]
    server.stop()
    rig.bridge.close()


def _step_until(rig, t_s: float, check=None) -> None:
    while rig.snap.t_s < t_s:
        _beat(rig)
        rig.step()
        if check:
            check()


def test_wmaxlimpct_with_a_revert_timer_returns_to_100_pct_without_renewal(pv_controls):
    rig, controls = pv_controls
    controls.WMaxLimPct.cvalue = 40.0
    controls.WMaxLim_Ena.value = 1
    controls.WMaxLimPct_RvrtTms.value = 30
    controls.write()
    written_s = rig.bridge.sim_t_s

    def still_limited():
        assert rig.snap.pv_limit_pct[0] == 40.0, rig.snap.t_s

    _step_until(rig, written_s + 29, still_limited)
    _step_until(rig, written_s + 31)
    assert rig.snap.pv_limit_pct[0] == 100.0
    controls.read()
    assert controls.WMaxLim_Ena.value == 0 and controls.WMaxLimPct.cvalue == 100.0


def test_a_renewed_limit_ramps_and_keeps_its_value_past_the_first_timeout(pv_controls):
    rig, controls = pv_controls
    controls.WMaxLimPct.cvalue = 60.0
    controls.WMaxLim_Ena.value = 1
    controls.WMaxLimPct_RvrtTms.value = 30
    controls.WMaxLimPct_RmpTms.value = 10
    controls.write()
    written_s = rig.bridge.sim_t_s
    _step_until(rig, written_s + 5)
    assert 60.0 < rig.snap.pv_limit_pct[0] < 100.0  # ramping down over 10 s
    _step_until(rig, written_s + 25)
    assert rig.snap.pv_limit_pct[0] == 60.0
    controls.WMaxLimPct.cvalue = 60.0
    controls.WMaxLimPct.dirty = True
    controls.write()  # renewal at 25 s: the timeout now ends at 55 s
    _step_until(rig, written_s + 45)
    assert rig.snap.pv_limit_pct[0] == 60.0


def test_charge_and_discharge_together_run_the_battery_at_the_net_rate(noon_rig):
    rig = noon_rig
    storage = scan(rig.port, rig.reg_map.device("bess").unit_id).models[124][0]
    storage.StorCtl_Mod.value = 3  # CHARGE | DiSCHARGE
    storage.OutWRte.cvalue = 30.0
    storage.InWRte.cvalue = 10.0
    storage.write()
    _beat(rig)
    rig.step()
    assert rig.snap.bess_p_set_kw == pytest.approx(0.20 * rig.twin.site.bess.p_max_kw)  # the guide's example

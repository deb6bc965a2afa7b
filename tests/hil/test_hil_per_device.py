"""Per-device control and per-device sensors over a real socket: a PV limit acts on its own
array only, and a sensor model on one device's point changes what that device's registers serve."""

from __future__ import annotations

import numpy as np
import pytest
from hil_rig import client_for, evening_scenario, f32, make_rig, read_point

from twin.config.sensors import SensorModel

NOON = 12
SENSOR_DELAY_S = 5
SENSOR_BIAS_KW = 40.0
CONNECTOR_BIAS_KW = 7.0


@pytest.fixture
def noon_rig(tmp_path):
    rig, server = make_rig(tmp_path, scenario=evening_scenario(hour=NOON))
    rig.step()
    yield rig
    server.stop()
    rig.bridge.close()


@pytest.fixture
def sensed_rig(tmp_path):
    """Noon, with the canopy array's power delayed and biased and one connector's power biased."""
    sensors = (SensorModel(point="pv_canopy.p_kw", delay_s=SENSOR_DELAY_S, bias=SENSOR_BIAS_KW),
               SensorModel(point="mcs_1.p_kw", bias=CONNECTOR_BIAS_KW))
    scenario = evening_scenario(hour=NOON).model_copy(update={"sensors": sensors})
    rig, server = make_rig(tmp_path, scenario=scenario)
    yield rig
    server.stop()
    rig.bridge.close()


def test_a_sunspec_limit_on_one_inverter_curtails_only_that_array(noon_rig):
    rig = noon_rig
    canopy, roof = rig.twin.site.pv
    heartbeat = rig.reg_map.point("site", "heartbeat")
    power = {a.name: rig.reg_map.point(a.name, "p_kw") for a in (canopy, roof)}
    with client_for(rig.port) as client:
        rig.step()
        before = {name: read_point(client, point) for name, point in power.items()}
        assert before[canopy.name] > 0.6 * canopy.inverter_kw  # noon: the limit below will bite
        limit_pct = rig.reg_map.point(canopy.name, "controls.WMaxLimPct")
        enable = rig.reg_map.point(canopy.name, "controls.WMaxLim_Ena")
        assert limit_pct.unit_id == 10
        assert not client.write_register(limit_pct.address, round(50.0 / limit_pct.scale),
                                         device_id=limit_pct.unit_id).isError()
        assert not client.write_register(enable.address, 1, device_id=enable.unit_id).isError()
        assert not client.write_register(heartbeat.address, 1, device_id=heartbeat.unit_id).isError()
        rig.step()
        after = {name: read_point(client, point) for name, point in power.items()}
        assert after[canopy.name] == pytest.approx(0.5 * canopy.inverter_kw, rel=1e-6)
        assert after[roof.name] == pytest.approx(before[roof.name], rel=0.01)  # noon: the sun barely moves in 1 s
        assert after[roof.name] == np.float32(rig.snap.pv_available_kw[1])  # not curtailed at all
        assert read_point(client, rig.reg_map.point(canopy.name, "p_limit_pct")) == 50.0
        assert read_point(client, rig.reg_map.point(roof.name, "p_limit_pct")) == 100.0
        # the plain map of the other inverter: only that array, and its SunSpec controls follow
        roof_limit = rig.reg_map.point(roof.name, "p_limit_pct")
        assert not client.write_registers(roof_limit.address, f32(client, 30.0),
                                          device_id=roof_limit.unit_id).isError()
        rig.step()
        assert read_point(client, power[roof.name]) == pytest.approx(0.3 * roof.inverter_kw, rel=1e-6)
        assert read_point(client, power[canopy.name]) == pytest.approx(0.5 * canopy.inverter_kw, rel=1e-6)
        assert read_point(client, rig.reg_map.point(roof.name, "controls.WMaxLimPct")) == pytest.approx(30.0)
        assert read_point(client, rig.reg_map.point(canopy.name, "controls.WMaxLimPct")) == pytest.approx(50.0)
    assert rig.snap.pv_limit_pct.tolist() == [50.0, 30.0]


def test_the_safe_state_releases_every_array_and_recovery_restores_each(noon_rig):
    rig = noon_rig
    heartbeat = rig.reg_map.point("site", "heartbeat")
    roof_limit = rig.reg_map.point("pv_roof", "p_limit_pct")
    timeout_s = int(rig.twin.site.watchdog.heartbeat_timeout_s)
    with client_for(rig.port) as client:
        assert not client.write_register(heartbeat.address, 1, device_id=heartbeat.unit_id).isError()
        assert not client.write_registers(roof_limit.address, f32(client, 20.0),
                                          device_id=roof_limit.unit_id).isError()
        rig.step()
        assert rig.snap.pv_limit_pct.tolist() == [100.0, 20.0]
        rig.step(timeout_s + 2)
        assert rig.bridge.tripped
        assert rig.snap.pv_limit_pct.tolist() == [100.0, 100.0]
        assert rig.snap.pv_p_kw[1] == rig.snap.pv_available_kw[1]
        assert not client.write_register(heartbeat.address, 2, device_id=heartbeat.unit_id).isError()
        rig.step()
        assert not rig.bridge.tripped
        assert rig.snap.pv_limit_pct.tolist() == [100.0, 20.0]  # the array written, and only that one
    trip = next(e for e in rig.events if e.kind == "watchdog")
    assert "every PV array 100 %" in trip.detail


def test_a_sensor_on_one_device_point_shifts_what_its_registers_serve(sensed_rig):
    rig = sensed_rig
    snaps = [rig.step() for _ in range(SENSOR_DELAY_S + 10)]
    truth = np.array([s.pv_p_kw for s in snaps])
    assert np.ptp(truth[:, 0]) > 0  # the truth moves, so a delay is visible
    with client_for(rig.port) as client:
        canopy = read_point(client, rig.reg_map.point("pv_canopy", "p_kw"))
        assert canopy == np.float32(truth[-1 - SENSOR_DELAY_S, 0] + SENSOR_BIAS_KW)
        assert canopy != np.float32(truth[-1, 0] + SENSOR_BIAS_KW)
        sunspec_w = read_point(client, rig.reg_map.point("pv_canopy", "inverter_three_phase.W"))
        assert sunspec_w == pytest.approx(canopy * 1e3, abs=rig.reg_map.point("pv_canopy", "inverter_three_phase.W").scale)
        # the other array, the connector's other points and the site sums are untouched
        assert read_point(client, rig.reg_map.point("pv_roof", "p_kw")) == np.float32(truth[-1, 1])
        connector = read_point(client, rig.reg_map.point("charger_mcs_1", "p_kw"))
        assert connector == np.float32(snaps[-1].charger_p_kw[rig.twin.connector_names.index("mcs_1")]
                                       + CONNECTOR_BIAS_KW)
        assert read_point(client, rig.reg_map.point("charger_mcs_2", "p_kw")) == np.float32(snaps[-1].charger_p_kw[
            rig.twin.connector_names.index("mcs_2")])
        assert read_point(client, rig.reg_map.point("site", "ev_p_kw")) == np.float32(snaps[-1].ev_p_kw)
    assert snaps[-1].measured.pv_p_kw == snaps[-1].pv_p_kw.sum()

"""SunSpec discovery and control with a standard client; the heartbeat watchdog."""

from __future__ import annotations

import asyncio

import pytest
import sunspec2.modbus.client as sunspec_client
from pymodbus.client import ModbusTcpClient

from hil.datastore.watchdog import safe_ev_cap_kw
from hil.maps.registers import SUNSPEC_BASE

SCAN_TIMEOUT_S = 30


def scan(port: int, unit_id: int):
    """pysunspec2 blocks on its socket: keep it off the event loop, bounded in time."""
    def run():
        device = sunspec_client.SunSpecModbusClientDeviceTCP(slave_id=unit_id, ipaddr="127.0.0.1", ipport=port,
                                                             timeout=2)
        device.scan()
        return device

    return asyncio.run(asyncio.wait_for(asyncio.to_thread(run), SCAN_TIMEOUT_S))


def test_pysunspec2_discovers_pv_battery_and_meter(rig):
    rig.step(5)
    pv = scan(rig.port, rig.reg_map.device("pv_canopy").unit_id)
    assert pv.base_addr == SUNSPEC_BASE
    assert {1, 103, 120, 123} <= set(pv.models)
    assert pv.common[0].SN.value == "pv_canopy"
    assert pv.models[103][0].W.cvalue == pytest.approx(rig.snap.pv_p_kw[0] * 1e3, abs=100)
    assert pv.models[120][0].WRtg.cvalue == rig.twin.site.pv[0].inverter_kw * 1e3
    bess = scan(rig.port, rig.reg_map.device("bess").unit_id)
    assert {1, 103, 124, 802} <= set(bess.models)
    assert bess.models[124][0].ChaState.cvalue == pytest.approx(rig.snap.bess_soc_pct, abs=0.1)
    battery = bess.models[802][0]
    assert battery.SoC.cvalue == pytest.approx(rig.snap.bess_soc_pct, abs=0.1)
    assert battery.WHRtg.cvalue == rig.twin.site.bess.e_kwh * 1e3
    meter = scan(rig.port, rig.reg_map.device("meter").unit_id)
    assert meter.models[203][0].W.cvalue == pytest.approx(rig.snap.grid_p_kw * 1e3, abs=1000)


def test_sunspec_writes_act_on_the_same_device_as_the_plain_map(rig):
    pv_unit = rig.reg_map.device("pv_canopy").unit_id
    pv = scan(rig.port, pv_unit)
    controls = pv.models[123][0]
    controls.WMaxLimPct.cvalue = 40.0
    controls.WMaxLim_Ena.value = 1
    controls.write()
    rig.step()
    assert rig.snap.pv_limit_pct[0] == 40.0
    limit = rig.reg_map.point("pv_canopy", "p_limit_pct")
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as client:
        words = client.read_holding_registers(limit.address, count=2, device_id=pv_unit).registers
        assert client.convert_from_registers(words, client.DATATYPE.FLOAT32) == 40.0
    controls.read()
    assert controls.WMaxLimPct.cvalue == 40.0 and controls.WMaxLim_Ena.value == 1
    controls.WMaxLimPct.cvalue = 150.0
    with pytest.raises(Exception, match="exception: 3"):
        controls.write()

    storage = scan(rig.port, rig.reg_map.device("bess").unit_id).models[124][0]
    storage.StorCtl_Mod.value = 2  # discharge
    storage.OutWRte.cvalue = 25.0
    storage.write()
    rig.step()
    assert rig.snap.bess_p_set_kw == pytest.approx(0.25 * rig.twin.site.bess.p_max_kw)


def test_watchdog_falls_back_to_the_safe_state_and_recovers(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    heartbeat = rig.reg_map.point("site", "heartbeat")
    timeout_s = rig.twin.site.watchdog.heartbeat_timeout_s
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as client:
        def beat(value: int) -> None:
            assert not client.write_register(heartbeat.address, value, device_id=heartbeat.unit_id).isError()

        beat(1)
        words = client.convert_to_registers(1500.0, client.DATATYPE.FLOAT32)
        assert not client.write_registers(bess.address, words, device_id=bess.unit_id).isError()
        for k in range(int(timeout_s)):  # a controller beating every few seconds keeps control
            rig.step()
            if k % 3 == 0:
                beat(k + 2)
        assert rig.snap.bess_p_set_kw == 1500.0
        assert client.read_holding_registers(heartbeat.address, count=1, device_id=1).registers == [k + 2]
        rig.step(int(timeout_s) + 4)  # silence, then the chargers' 1 s command latency
        assert rig.bridge.tripped
        assert rig.snap.bess_p_set_kw == 0.0
        assert rig.snap.ev_cap_kw == safe_ev_cap_kw(rig.twin.site)
        assert rig.snap.pv_limit_pct.tolist() == [100.0] * len(rig.twin.pv.names)
        # writes while tripped are kept but do not act
        words = client.convert_to_registers(900.0, client.DATATYPE.FLOAT32)
        assert not client.write_registers(bess.address, words, device_id=bess.unit_id).isError()
        rig.step(2)
        assert rig.snap.bess_p_set_kw == 0.0
        beat(99)
        rig.step(2)
        assert not rig.bridge.tripped
        assert rig.snap.bess_p_set_kw == 900.0
    kinds = [e.kind for e in rig.events if e.kind.startswith("watchdog")]
    assert kinds == ["watchdog", "watchdog_recovered"]
    trip = next(e for e in rig.events if e.kind == "watchdog")
    assert trip.device == "site" and "safe state" in trip.detail

"""The server over a real socket: every point against the twin, exception codes, audit, read-only."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hil_rig import client_for, f32
from pymodbus.client import ModbusTcpClient

from hil.maps.registers import SUNSPEC_BASE, decode


def expected_values(rig) -> dict[tuple[str, str], float]:
    """What each plain point must show, straight from the snapshot after the sensor model."""
    snap, twin = rig.snap, rig.twin
    m, info = snap.measured, twin.site_info
    values = {("meter", "p_kw"): m.grid_p_kw, ("meter", "q_kvar"): m.grid_q_kvar, ("meter", "v_pu"): m.poc_v_pu,
              ("bess", "p_set_kw"): snap.bess_p_set_kw, ("bess", "p_kw"): m.bess_p_kw,
              ("bess", "soc_pct"): m.bess_soc_pct, ("bess", "state"): snap.bess_state,
              ("bess", "p_max_kw"): info.bess_p_max_kw, ("bess", "e_kwh"): info.bess_e_kwh,
              ("bess", "soc_min_pct"): info.bess_soc_min_pct, ("bess", "soc_max_pct"): info.bess_soc_max_pct,
              ("site", "ev_cap_kw"): m.ev_cap_kw, ("site", "contract_limit_kw"): snap.contract_limit_kw,
              ("site", "sim_time_s"): snap.t_s, ("site", "hour_local"): m.hour_local,
              ("site", "tariff_cny_per_kwh"): m.tariff_cny_per_kwh,
              ("site", "valley_tariff_cny_per_kwh"): info.valley_cny_per_kwh,
              ("site", "ev_p_max_kw"): info.ev_p_max_kw, ("site", "heartbeat"): 0, ("site", "ev_p_kw"): m.ev_p_kw,
              ("site", "fault_count"): snap.fault_count, ("site", "islanded"): int(snap.islanded),
              ("site", "ready"): 1, ("site", "step"): round(snap.t_s / twin.scenario.step_s), ("site", "step_ack"): 0, ("site", "writer_conflicts"): 0,
              ("swap", "p_kw"): snap.swap_p_kw, ("swap", "full_packs"): snap.swap_full_packs}
    for i, name in enumerate(twin.pv.names):
        device = name if name.startswith("pv") else f"pv_{name}"
        values.update({(device, "p_limit_pct"): snap.pv_limit_pct[i], (device, "p_kw"): snap.pv_p_kw[i],
                       (device, "p_available_kw"): snap.pv_available_kw[i]})
    for i, name in enumerate(twin.connector_names):
        device = f"charger_{name}"
        values.update({(device, "p_limit_kw"): snap.charger_limit_kw[i], (device, "p_kw"): snap.charger_p_kw[i],
                       (device, "connected"): snap.charger_connected[i],
                       (device, "ev_soc_pct"): snap.charger_ev_soc_pct[i]})
    return values


def test_every_plain_point_reads_the_measured_snapshot(rig):
    rig.step(30)  # some vehicles plugged in, the battery moving
    expected = expected_values(rig)
    plain = [p for p in rig.reg_map.points if p.address < SUNSPEC_BASE]
    assert {(p.device, p.point) for p in plain} == set(expected)
    with client_for(rig.port) as client:
        for p in plain:
            response = client.read_holding_registers(p.address, count=p.count, device_id=p.unit_id)
            assert not response.isError(), (p.device, p.point)
            got = decode(p.type, response.registers)
            want = expected[(p.device, p.point)]
            assert got == (np.float32(want) if p.type == "float32" else round(float(want))), (p.device, p.point)
        # function 4 reads the same registers
        meter = rig.reg_map.point("meter", "p_kw")
        response = client.read_input_registers(meter.address, count=2, device_id=meter.unit_id)
        assert decode("float32", response.registers) == np.float32(expected[("meter", "p_kw")])


def test_accepted_write_goes_through_the_twin_with_latency(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    latency_s = rig.twin.site.bess.command_latency_s
    with client_for(rig.port) as client:
        assert not client.write_registers(bess.address, f32(client, -800.0), device_id=bess.unit_id).isError()
        rig.step()  # the write is handed over at this step and takes effect after the latency
        assert latency_s < rig.twin.scenario.step_s
        assert rig.snap.bess_p_set_kw == -800.0
        response = client.read_holding_registers(bess.address, count=2, device_id=bess.unit_id)
        assert decode("float32", response.registers) == -800.0
    assert any(e.kind == "setpoint" and e.device == "bess" and e.detail.startswith("p_set_kw [kW]") for e in rig.events)


def test_exception_codes_and_the_audit_log(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    soc = rig.reg_map.point("bess", "soc_pct")
    limit = rig.reg_map.point("charger_mcs_1", "p_limit_kw")
    with client_for(rig.port) as client:
        unit = bess.unit_id
        assert client.write_registers(bess.address, f32(client, 99999.0), device_id=unit).exception_code == 3
        assert client.write_registers(bess.address, f32(client, float("nan")), device_id=unit).exception_code == 3
        assert client.write_registers(soc.address, f32(client, 50.0), device_id=unit).exception_code == 3
        assert client.write_register(bess.address, 1, device_id=unit).exception_code == 3  # half a float32
        assert client.write_register(1000, 1, device_id=unit).exception_code == 2
        assert client.read_holding_registers(1000, count=2, device_id=unit).exception_code == 2
        assert client.read_holding_registers(SUNSPEC_BASE - 1, count=2, device_id=unit).exception_code == 2
        assert client.read_holding_registers(0, count=2, device_id=200).exception_code == 0x0B
        assert client.write_coil(0, True, device_id=unit).exception_code == 1
        assert not client.write_registers(limit.address, f32(client, 400.0), device_id=limit.unit_id).isError()
        assert client.write_registers(limit.address, f32(client, 1500.0), device_id=limit.unit_id).exception_code == 3
    rig.step(2)  # the chargers' 1 s command latency ends on the next step boundary
    slot = rig.twin.connector_names.index("mcs_1")
    assert rig.snap.charger_limit_kw[slot] == 400.0
    audit = [json.loads(line) for line in rig.audit_path.read_text().splitlines()]
    assert [a["result"] for a in audit] == ["exception 03"] * 4 + ["exception 02", "exception 01", "ok",
                                                                   "exception 03"]
    assert [a["function"] for a in audit] == [16, 16, 16, 6, 6, 5, 16, 16]  # the refused coil write too
    assert audit[6]["points"] == {"charger_mcs_1.p_limit_kw": 400.0}
    first = audit[0]
    assert set(first) == {"wall_time", "sim_t_s", "client", "function", "unit_id", "address", "count", "values",
                          "result"}
    assert first["client"].startswith("127.0.0.1:") and first["unit_id"] == bess.unit_id
    assert first["sim_t_s"] == 1.0 and first["values"] == f32(ModbusTcpClient, 99999.0)


def test_read_only_rejects_every_write_with_exception_01(read_only_rig):
    rig = read_only_rig
    bess = rig.reg_map.point("bess", "p_set_kw")
    heartbeat = rig.reg_map.point("site", "heartbeat")
    with client_for(rig.port) as client:
        assert client.write_registers(bess.address, f32(client, 100.0), device_id=bess.unit_id).exception_code == 1
        assert client.write_register(heartbeat.address, 1, device_id=heartbeat.unit_id).exception_code == 1
        assert not client.read_holding_registers(bess.address, count=2, device_id=bess.unit_id).isError()
    rig.step()
    assert rig.snap.bess_p_set_kw == 0.0
    assert [json.loads(line)["result"] for line in rig.audit_path.read_text().splitlines()] == ["exception 01"] * 2


@pytest.mark.parametrize("allowed, connects", [({"127.0.0.1"}, True), ({"192.0.2.7"}, False)])
def test_allow_list(tmp_path, allowed, connects):
    from hil_rig import make_rig

    rig, server = make_rig(tmp_path, allow=allowed)
    try:
        client = ModbusTcpClient("127.0.0.1", port=rig.port, timeout=1, retries=0)
        client.connect()
        try:
            response = client.read_holding_registers(0, count=2, device_id=1)
            answered = not response.isError()
        except Exception:  # noqa: BLE001 - a refused client sees its connection closed
            answered = False
        client.close()
        assert answered == connects
    finally:
        server.stop()
        rig.bridge.close()

"""The datastore's pieces: one validation against command_specs, the audit beside the events."""

from __future__ import annotations

import json

import pytest
from hil_rig import client_for, f32

from hil.datastore.validation import ILLEGAL_VALUE
from hil.maps.sunspec import writable_ranges


def test_an_accepted_write_is_audited_as_the_command_the_events_table_records(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    with client_for(rig.port) as client:
        assert not client.write_registers(bess.address, f32(client, -640.0), device_id=bess.unit_id).isError()
        rig.step(3)
    line = json.loads(rig.audit_path.read_text().splitlines()[-1])
    assert line["result"] == "ok" and line["values"] == f32(client, -640.0)  # the raw registers, as written
    [command] = line["commands"]
    event = next(e for e in rig.events if e.kind == "setpoint" and e.device == command["target"])
    assert (command["target"], command["quantity"], command["unit"], command["value"]) == \
        (rig.twin.site.bess.name, "p_set_kw", "kW", -640.0)
    assert event.value == command["value"]
    assert event.detail == f"{command['quantity']} [{command['unit']}] by {command['source']}"
    assert command["source"] == "modbus client 1" and command["t_s"] == line["sim_t_s"]


def test_a_refused_write_has_no_command_in_the_audit(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    too_much = rig.twin.site.bess.p_max_kw + 1.0
    with client_for(rig.port) as client:
        response = client.write_registers(bess.address, f32(client, too_much), device_id=bess.unit_id)
    assert response.isError() and response.exception_code == ILLEGAL_VALUE
    line = json.loads(rig.audit_path.read_text().splitlines()[-1])
    assert line["result"] == "exception 03" and "commands" not in line


def test_sunspec_rate_and_limit_ranges_come_from_command_specs(rig):
    specs = rig.twin.command_specs
    bess_device = rig.reg_map.device("bess")
    bess = rig.twin.site.bess
    ranges = writable_ranges(bess_device, rig.twin.site)
    spec = specs[(bess.name, "p_set_kw")]
    assert ranges[(124, "OutWRte")] == (0.0, 100.0 * spec.high / bess.p_max_kw)
    assert ranges[(124, "InWRte")] == (0.0, -100.0 * spec.low / bess.p_max_kw)
    pv = next(d for d in rig.reg_map.devices if d.kind == "pv")
    limit = specs[(pv.twin_name, "p_limit_pct")]
    assert writable_ranges(pv, rig.twin.site)[(123, "WMaxLimPct")] == (limit.low, limit.high)


@pytest.mark.parametrize("name", ["p_limit_pct"])
def test_a_pv_limit_write_is_checked_by_the_command_spec(rig, name):
    pv = next(d for d in rig.reg_map.devices if d.kind == "pv")
    point = rig.reg_map.point(pv.name, name)
    with client_for(rig.port) as client:
        assert client.write_registers(point.address, f32(client, 100.5), device_id=pv.unit_id).isError()
        assert not client.write_registers(point.address, f32(client, 60.0), device_id=pv.unit_id).isError()

"""One writer at a time: a second writing client is detected, and refused under --single-writer."""

from __future__ import annotations

import pytest
from hil_rig import client_for, f32, make_rig

from hil.maps.registers import decode


@pytest.mark.parametrize("single_writer", [False, True])
def test_a_second_writing_client_is_a_conflict(tmp_path, single_writer):
    rig, server = make_rig(tmp_path)
    rig.bridge.writers.single_writer = single_writer
    try:
        rig.step()
        cap = rig.reg_map.point("site", "ev_cap_kw")
        conflicts = rig.reg_map.point("site", "writer_conflicts")
        with client_for(rig.port) as first, client_for(rig.port) as second:
            assert not first.write_registers(cap.address, f32(first, 2000.0), device_id=1).isError()
            refused = second.write_registers(cap.address, f32(second, 1000.0), device_id=1)
            assert refused.isError() == single_writer and (not single_writer or refused.exception_code == 1)
            assert not first.write_registers(cap.address, f32(first, 2100.0), device_id=1).isError()
            second.write_registers(cap.address, f32(second, 1100.0), device_id=1)
            rig.step(3)
            words = first.read_holding_registers(conflicts.address, count=1, device_id=1).registers
            assert decode("uint16", words) == 2
        conflict_events = [e for e in rig.events if e.kind == "writer_conflict"]
        assert len(conflict_events) == 1 and ("refused" in conflict_events[0].detail) == single_writer
        assert rig.snap.ev_cap_kw == (2100.0 if single_writer else 1100.0)
        sources = {e.detail.rpartition(" by ")[2] for e in rig.events if e.kind == "setpoint" and e.device == "site"}
        # between two steps the last accepted write wins: the second client's, unless it was refused
        assert sources == ({"modbus client 1"} if single_writer else {"modbus client 2"})
    finally:
        server.stop()
        rig.bridge.close()


def test_the_writer_hands_over_when_its_connection_closes(tmp_path):
    rig, server = make_rig(tmp_path)
    rig.bridge.writers.single_writer = True
    try:
        rig.step()
        cap = rig.reg_map.point("site", "ev_cap_kw")
        with client_for(rig.port) as first:
            assert not first.write_registers(cap.address, f32(first, 2000.0), device_id=1).isError()
        for _ in range(200):  # the server sees the close asynchronously; bounded wait
            if rig.bridge.writers.owner is None:
                break
            rig.step()
        with client_for(rig.port) as second:
            assert not second.write_registers(cap.address, f32(second, 1500.0), device_id=1).isError()
        assert rig.bridge.writers.conflicts == 0
    finally:
        server.stop()
        rig.bridge.close()

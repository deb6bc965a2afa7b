"""Faults on Modbus (a silent unit), and the vendor's controller under test via --controller-cmd."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from hil_rig import DATA, make_rig
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from hil.acceptance import run_with_external_controller
from twin.config.faults import Fault
from twin.config.scenario import load_scenario


@pytest.fixture()
def rig(tmp_path):
    rig, server = make_rig(tmp_path)
    yield rig
    server.stop()


def test_comms_loss_silences_one_unit_only(rig):
    meter = next(d for d in rig.reg_map.devices if d.name == "meter")
    bess = next(d for d in rig.reg_map.devices if d.kind == "bess")
    rig.twin.schedule_fault(Fault(kind="comms_loss", device="meter", start_s=rig.twin.env.now + 1, duration_s=5))
    rig.step(3)
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=0.5, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(ModbusIOException):  # no answer at all: the client times out
            client.read_holding_registers(0, count=2, device_id=meter.unit_id)
        assert time.monotonic() - started >= 0.4
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2) as client:
        assert not client.read_holding_registers(0, count=2, device_id=bess.unit_id).isError()
    assert "meter" in rig.snap.comms_lost and "grid_p_kw" in rig.snap.measured.stale
    rig.step(6)
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2) as client:
        assert not client.read_holding_registers(0, count=2, device_id=meter.unit_id).isError()
    assert rig.snap.measured.stale == ()


def test_a_fault_shows_in_the_site_alarm_registers(rig):
    site = next(d for d in rig.reg_map.devices if d.name == "site")
    bess = next(d for d in rig.reg_map.devices if d.kind == "bess")
    points = {p.point: p for p in rig.reg_map.plain(site.unit_id)}
    state = next(p for p in rig.reg_map.plain(bess.unit_id) if p.point == "state")
    rig.twin.schedule_fault(Fault(kind="bess_trip", device="bess", start_s=rig.twin.env.now + 1, duration_s=600))
    rig.twin.schedule_fault(Fault(kind="utility_outage", start_s=rig.twin.env.now + 1, duration_s=600))
    rig.step(3)
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2) as client:
        def read(unit_id, point):
            return client.read_holding_registers(point.address, count=1, device_id=unit_id).registers[0]

        assert read(site.unit_id, points["fault_count"]) == 2
        assert read(site.unit_id, points["islanded"]) == 0  # a tripped battery cannot form the island
        assert read(bess.unit_id, state) == 3  # FAULT
    assert rig.snap.v_pu.max() == 0.0  # nothing left to supply the site: a blackout


def _short_peak(tmp_path: Path):
    return load_scenario(DATA / "evening-peak.toml").with_options(duration_s=3600.0).model_copy(
        update={"criteria": ("grid_import_kw.max_15min <= 4000",)})


def test_external_reference_controller_passes_through_controller_cmd(tmp_path):
    command = f"{sys.executable} -m twin controller --host {{host}} --port {{port}}"
    result = run_with_external_controller(_short_peak(tmp_path), tmp_path / "ok", command, speed=360)
    assert result.status == "completed" and result.error is None
    assert result.passed, result.verdicts


@pytest.mark.parametrize("script, reason", [
    ("import sys; sys.exit(3)", "exited with code 3"),
    ("import time; time.sleep(600)", "wrote nothing"),
])
def test_a_crashing_or_silent_controller_fails_clearly_and_in_bounded_time(tmp_path, script, reason):
    result = run_with_external_controller(_short_peak(tmp_path), tmp_path / "bad",
                                          f"{sys.executable} -c '{script}'", speed=360, start_timeout_s=15)
    assert not result.passed and reason in (result.error or "")
    assert any(reason in v.reason and not v.passed for v in result.verdicts)
    assert (tmp_path / "bad" / "run.json").exists() and (tmp_path / "bad" / "verdicts.json").exists()

"""A served twin stepped by hand: the test decides when a step happens, the socket is real."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pymodbus.client import ModbusTcpClient

from hil.datastore.bridge import Bridge
from hil.maps.registers import Point, RegisterMap, decode
from hil.maps.site_map import build_register_map
from hil.servers.modbus_tcp import ModbusServer
from twin.config.scenario import load_scenario
from twin.model.core import Snapshot, Twin
from twin.model.events import Event
from twin.run.loop import Collector, Stepper

REPO = Path(__file__).resolve().parents[2]
REFERENCE_SCENARIO = REPO / "scenarios" / "holiday-peak-freight.toml"
DATA = Path(__file__).resolve().parent / "data"


def evening_scenario(duration_s: float = 3600.0, step_s: float = 1.0, hour: int = 18):
    """The reference scenario from ``hour`` (the evening peak by default; noon for PV)."""
    return load_scenario(REFERENCE_SCENARIO).with_options(
        start=dt.datetime.fromisoformat(f"2026-10-01T{hour:02d}:00:00+08:00"), duration_s=duration_s, step_s=step_s)


@dataclass
class Rig:
    twin: Twin
    reg_map: RegisterMap
    bridge: Bridge
    port: int
    audit_path: Path
    stepper: Stepper
    kept: Collector

    @property
    def snap(self) -> Snapshot | None:
        return self.stepper.snap

    @property
    def events(self) -> list[Event]:
        return self.kept.events

    def step(self, n: int = 1) -> Snapshot:
        """What run_loop does, one step at a time: setpoints from Modbus, step, images."""
        for _ in range(n):
            self.stepper.step()
        return self.snap


def make_rig(tmp_path: Path, read_only: bool = False, allow: set[str] | None = None, scenario=None, limits=None,
             tls=None):
    twin = Twin(scenario or evening_scenario())
    reg_map = build_register_map(twin.site)
    audit = tmp_path / "audit.jsonl"
    bridge = Bridge(twin, reg_map, audit, read_only=read_only)
    server = ModbusServer(bridge, "127.0.0.1", 0, allow, tls=tls, **({"limits": limits} if limits else {}))
    port = server.start()
    kept = Collector()
    return Rig(twin, reg_map, bridge, port, audit, Stepper(twin, bridge, [bridge, kept]), kept), server


def client_for(port: int) -> ModbusTcpClient:
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    assert client.connect()
    return client


def f32(client: ModbusTcpClient, value: float) -> list[int]:
    return client.convert_to_registers(value, client.DATATYPE.FLOAT32)


def read_point(client: ModbusTcpClient, point: Point) -> float:
    """A point's engineering value over the socket (SunSpec points: raw x the map's scale)."""
    response = client.read_holding_registers(point.address, count=point.count, device_id=point.unit_id)
    assert not response.isError(), (point.device, point.point)
    return decode(point.type, response.registers) * point.scale


@contextlib.contextmanager
def serving(tmp_path: Path, **options):
    """A rig served and stepped once, stopped on leaving (for fixtures)."""
    rig, server = make_rig(tmp_path, **options)
    rig.step()
    try:
        yield rig
    finally:
        server.stop()
        rig.bridge.close()

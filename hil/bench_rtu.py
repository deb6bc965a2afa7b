"""``satwin bench hil --rtu``: Modbus RTU round trips on a pty pair, with and without bus timing.

The Huawei zero-export set-up: the reference site's meter served as a DTSU666-H at unit 11
on an RTU line; a client polls the sensor's 40 measurement floats (2102-2181, one request)
as a SUN2000 does, at 9,600 and 115,200 baud, with the product's timing on (a reply leaves
no sooner than the frames could cross a real line, plus the sensor's reply time) and off (as
fast as the pty and the server go). Figures, never a pass/fail.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pymodbus.client import ModbusSerialClient

import scenarios
from hil.datastore.bridge import Bridge
from hil.maps.site_map import build_register_map
from hil.servers.pty_link import PtyLink
from hil.servers.rtu import RtuLine, RtuServer
from twin.config.scenario import load_scenario
from twin.config.site import ModbusDevice
from twin.model.core import Twin

REFERENCE_SCENARIO = scenarios.REFERENCE
BAUDS = (9600, 115200)
SENSOR_UNIT, FIRST_REGISTER, REGISTERS = 11, 2102, 80


def _twin() -> Twin:
    scenario = load_scenario(REFERENCE_SCENARIO).with_options(
        start=dt.datetime.fromisoformat("2026-10-01T12:00:00+08:00"), duration_s=600.0, step_s=1.0)
    sensor = ModbusDevice(device="meter", profile="dtsu666-h", unit_id=SENSOR_UNIT, transport="rtu")
    site = scenario.site.model_copy(update={"modbus_devices": (sensor,)})
    return Twin(scenario.model_copy(update={"site": site}))


def _round_trips(bridge: Bridge, baud: int, timing: bool, requests: int) -> list[float]:
    with PtyLink() as link:
        server = RtuServer(bridge, RtuLine(link.server_path, baud), timing=timing)
        server.start()
        client = ModbusSerialClient(link.client_path, baudrate=baud, timeout=2, retries=0)
        client.connect()
        try:
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.read_holding_registers(FIRST_REGISTER, count=REGISTERS, device_id=SENSOR_UNIT)
                times.append(time.perf_counter() - started)
                if response.isError():
                    raise RuntimeError(f"bench request failed: {response}")
            return times
        finally:
            client.close()
            server.stop()


def bench_rtu(requests: int = 40, echo: Callable[[str], None] = print) -> dict[str, float]:
    twin = _twin()
    with tempfile.TemporaryDirectory() as out:
        bridge = Bridge(twin, build_register_map(twin.site), Path(out) / "audit.jsonl")
        snap = twin.step(twin.scenario.step_s)
        bridge.on_snapshot(snap)
        figures: dict[str, float] = {}
        echo(f"Modbus RTU on a pty pair: DTSU666-H at unit {SENSOR_UNIT}, {REGISTERS} registers from "
             f"{FIRST_REGISTER} per request, {requests} requests per case")
        for baud in BAUDS:
            for timing in (True, False):
                rt = np.asarray(_round_trips(bridge, baud, timing, requests)) * 1e3
                key = f"{baud}_{'timed' if timing else 'untimed'}"
                figures[f"rt_p50_ms_{key}"] = float(np.percentile(rt, 50))
                figures[f"rt_p99_ms_{key}"] = float(np.percentile(rt, 99))
                echo(f"  {baud:>6} baud, bus timing {'on ' if timing else 'off'}: round trip p50 "
                     f"{figures[f'rt_p50_ms_{key}']:.1f} ms, p99 {figures[f'rt_p99_ms_{key}']:.1f} ms")
        bridge.close()
    return figures

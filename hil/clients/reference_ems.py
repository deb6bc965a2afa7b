"""External reference controller: the built-in peak-shaving policy, driven only over Modbus.

It learns the site from the register map (a JSON export of ``satwin registers``, or by
discovering unit ids on the server), fills ``Measurements`` and ``SiteInfo`` from
registers alone, asks ``PeakShavingController`` what to do and writes the battery
setpoint, the site EV cap and the heartbeat. That it keeps the site inside its contract
is the proof that the map is sufficient for a real EMS.

It works once per step: it waits for ``site.step`` to change, reads, decides, writes, and
acknowledges the step in ``site.step_ack``. Under ``satwin serve --clock lockstep`` the
twin waits for that acknowledgement, so the controller acts within every step whatever the
machine's load; the paced clock ignores it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from hil.maps.registers import (
    BESS_UNIT,
    CHARGER_FIRST_UNIT,
    HEARTBEAT_MAX,
    MAX_UNIT,
    METER_UNIT,
    PV_FIRST_UNIT,
    SITE_UNIT,
    SUNSPEC_BASE,
    SWAP_UNIT,
    TYPE_COUNT,
    decode,
    plain_layout,
)
from twin.model.controllers.base import Measurements, SiteInfo
from twin.model.controllers.peak_shaving import PeakShavingController

CONNECT_ATTEMPTS = 20
CONNECT_RETRY_S = 0.25
MAX_CONSECUTIVE_FAILURES = 5
POLL_S = 0.001  # how often to look for a new step; a lockstep step lasts only a few ms
GATEWAY_NO_RESPONSE = 0x0B  # what the server answers for a unit id it does not have


@dataclass(frozen=True)
class DeviceMap:
    name: str
    unit_id: int
    points: dict[str, tuple[int, str]]  # point -> (address, type), plain map only

    @property
    def size(self) -> int:
        return max(address + TYPE_COUNT[kind] for address, kind in self.points.values())


def map_from_json(path: Path) -> dict[str, DeviceMap]:
    """Devices of a ``satwin registers --format json`` export."""
    devices: dict[str, tuple[int, dict]] = {}
    for entry in json.loads(Path(path).read_text()):
        if entry["address"] < SUNSPEC_BASE:
            devices.setdefault(entry["device"], (entry["unit_id"], {}))[1][entry["point"]] = \
                (entry["address"], entry["type"])
    return {name: DeviceMap(name, unit, points) for name, (unit, points) in devices.items()}


class SiteClient:
    """Reads whole plain maps and writes points by name over one Modbus TCP connection."""

    def __init__(self, host: str, port: int, timeout_s: float = 2.0, attempts: int = CONNECT_ATTEMPTS) -> None:
        self.client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=1)
        for _ in range(max(1, attempts)):
            if self.client.connect():
                return
            time.sleep(CONNECT_RETRY_S)
        raise ConnectionError(f"no Modbus server at {host}:{port}")

    def read(self, device: DeviceMap) -> dict[str, float]:
        response = self.client.read_holding_registers(0, count=device.size, device_id=device.unit_id)
        if response.isError():
            raise ModbusException(f"reading {device.name}: exception {response.exception_code}")
        words = response.registers
        return {name: decode(kind, words[address:address + TYPE_COUNT[kind]])
                for name, (address, kind) in device.points.items()}

    def write(self, device: DeviceMap, point: str, value: float) -> None:
        address, kind = device.points[point]
        words = self.client.convert_to_registers(value, getattr(self.client.DATATYPE, kind.upper()))
        response = self.client.write_registers(address, words, device_id=device.unit_id)
        if response.isError():
            raise ModbusException(f"writing {device.name}.{point}: exception {response.exception_code}")

    def discover(self) -> dict[str, DeviceMap]:
        """Devices by the map's unit-id convention: fixed units, then PV and charger ranges until a gap."""
        devices = {}
        for name, unit, kind in (("site", SITE_UNIT, "site"), ("meter", METER_UNIT, "meter"),
                                 ("bess", BESS_UNIT, "bess"), ("swap", SWAP_UNIT, "swap")):
            if self._exists(unit):
                devices[name] = DeviceMap(name, unit, plain_layout(kind))
        for first, kind in ((PV_FIRST_UNIT, "pv"), (CHARGER_FIRST_UNIT, "charger")):
            unit = first
            while unit <= MAX_UNIT and self._exists(unit):
                devices[f"{kind}@{unit}"] = DeviceMap(f"{kind}@{unit}", unit, plain_layout(kind))
                unit += 1
        return devices

    def _exists(self, unit: int) -> bool:
        response = self.client.read_holding_registers(0, count=1, device_id=unit)
        return not (response.isError() and response.exception_code == GATEWAY_NO_RESPONSE)

    def close(self) -> None:
        self.client.close()


def _kind(name: str) -> str:
    """Device kind from a map name (``pv_roof``, ``charger_mcs_1``) or a discovered one (``pv@10``)."""
    return next((kind for kind in ("pv", "charger") if name.startswith(kind)), name)


@dataclass
class ControllerResult:
    cycles: int
    last_sim_t_s: float
    reason: str


def run_controller(host: str = "127.0.0.1", port: int = 5020, unit_map: Path | None = None,
                   stall_timeout_s: float = 5.0, echo: Callable[[str], None] = print) -> ControllerResult:
    """Control until the connection is lost or sim time stops advancing for ``stall_timeout_s``
    (or three step intervals, when steps are slower than that in wall time)."""
    client = SiteClient(host, port)
    devices = map_from_json(unit_map) if unit_map else client.discover()
    site, meter, bess = devices["site"], devices["meter"], devices["bess"]
    arrays = [d for name, d in devices.items() if _kind(name) == "pv"]
    echo(f"controller: {len(devices)} devices on {host}:{port}")
    # before the first step the register image is still all zeros: wait until it says it is ready
    waited_since = time.monotonic()
    while client.read(site)["ready"] != 1:
        if time.monotonic() - waited_since > stall_timeout_s:
            return ControllerResult(0, 0.0, "the register image never became ready")
        time.sleep(POLL_S)
    nameplate_site, nameplate_bess = client.read(site), client.read(bess)
    policy = PeakShavingController(SiteInfo(
        contract_limit_kw=nameplate_site["contract_limit_kw"], bess_p_max_kw=nameplate_bess["p_max_kw"],
        bess_e_kwh=nameplate_bess["e_kwh"], bess_soc_min_pct=nameplate_bess["soc_min_pct"],
        bess_soc_max_pct=nameplate_bess["soc_max_pct"], ev_p_max_kw=nameplate_site["ev_p_max_kw"],
        valley_cny_per_kwh=nameplate_site["valley_tariff_cny_per_kwh"], bess_name="bess"))
    # the policy's commands, as this client writes them: quantity -> (device, point)
    points = {"p_set_kw": (bess, "p_set_kw"), "ev_cap_kw": (site, "ev_cap_kw")}
    cycles, failures, last_step, last_t_s, beat = 0, 0, 0, -1.0, 0
    last_change, step_wall_s = time.monotonic(), 0.0
    try:
        while True:
            try:
                s = client.read(site)
                if s["step"] == last_step:
                    if time.monotonic() - last_change > max(stall_timeout_s, 3.0 * step_wall_s):
                        return ControllerResult(cycles, last_t_s, "simulation time stopped advancing")
                    time.sleep(POLL_S)
                    continue
                now = time.monotonic()
                if last_t_s >= 0:
                    step_wall_s = now - last_change
                last_step, last_t_s, last_change = int(s["step"]), s["sim_time_s"], now
                measured = _measure(s, client.read(meter), client.read(bess), [client.read(d) for d in arrays])
                for command in policy.decide(measured):
                    client.write(*points[command.quantity], command.value)
                beat = (beat + 1) % (HEARTBEAT_MAX + 1)
                client.write(site, "heartbeat", beat)
                client.write(site, "step_ack", last_step)  # last: everything for this step is written
                cycles, failures = cycles + 1, 0
            except (ModbusException, OSError) as exc:
                failures += 1
                if failures >= MAX_CONSECUTIVE_FAILURES or not client.client.connected:
                    return ControllerResult(cycles, last_t_s, f"connection lost: {exc}")
                time.sleep(CONNECT_RETRY_S)
    finally:
        client.close()


def _measure(site: dict, meter: dict, bess: dict, arrays: list[dict]) -> Measurements:
    return Measurements(
        t_s=site["sim_time_s"], hour_local=site["hour_local"], grid_p_kw=meter["p_kw"], grid_q_kvar=meter["q_kvar"],
        poc_v_pu=meter["v_pu"], pv_p_kw=sum(a["p_kw"] for a in arrays),
        pv_available_kw=sum(a["p_available_kw"] for a in arrays), bess_p_kw=bess["p_kw"],
        bess_soc_pct=bess["soc_pct"], ev_p_kw=site["ev_p_kw"], ev_cap_kw=site["ev_cap_kw"],
        tariff_cny_per_kwh=site["tariff_cny_per_kwh"])

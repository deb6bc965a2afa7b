"""The Modbus register map as data: one table of points, built from the site file alone.

Every device is one Modbus unit id. Each has a *plain map* at address 0 (engineering
values as big-endian float32, so a controller integrates in minutes) and PV inverters,
the battery and the site meter also carry a SunSpec block at 40000 (``hil.maps.sunspec``;
``hil.maps.site_map`` puts the two together). Server, reference controller, docs and
exports all read this one table, so an address is written down exactly once.

The map is a function of the ``Site``: no twin is built to export it. What a point shows
after a step (``PlainSpec.read``) is bound to the running twin by the datastore
(``hil.datastore.image``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twin.config.site import Site
from twin.model.commands import CommandSpec
from twin.model.controllers.base import Measurements, SiteInfo, site_info
from twin.model.devices.bess import BessState

if TYPE_CHECKING:  # a point's reader takes a step; the map itself needs no twin
    from twin.model.core import Snapshot

JSON_KEYS = ("device", "unit_id", "point", "table", "address", "type", "count", "scale", "units", "access",
             "description", "min", "max", "enum", "latency_s", "ramp_per_s")
TYPE_COUNT = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}

SITE_UNIT, METER_UNIT, BESS_UNIT, SWAP_UNIT = 1, 2, 3, 4
PV_FIRST_UNIT, CHARGER_FIRST_UNIT = 10, 100
MAX_UNIT = 247  # highest Modbus unit id

HEARTBEAT_MAX = 65535
STEP_MAX = 2**32 - 1
# points the datastore fills and interprets itself (no twin quantity): accepted range of a write
BRIDGE_COMMANDS = {"heartbeat": (0, HEARTBEAT_MAX), "step_ack": (0, STEP_MAX)}


@dataclass(frozen=True, slots=True)
class Point:
    """One register point. A writable point sets ``command`` (the quantity) on ``target`` (the
    device as the site names it, see ``twin.model.commands``)."""

    device: str
    unit_id: int
    point: str
    table: str
    address: int
    type: str
    count: int
    scale: float
    units: str
    access: str
    description: str
    min: float | None = None
    max: float | None = None
    enum: tuple[tuple[int, str], ...] = ()  # value -> name (a bitfield: the bit's mask -> name)
    latency_s: float | None = None  # a write acts after this long (simulated s)
    ramp_per_s: float | None = None  # then moves at most this much per second (the point's units)
    command: str | None = field(default=None, compare=False)
    target: str | None = field(default=None, compare=False)

    def as_json(self) -> dict:
        row = {key: getattr(self, key) for key in JSON_KEYS}
        row["enum"] = {str(value): name for value, name in self.enum}
        return row

    def as_row(self) -> dict:
        """Flat, for CSV and Markdown: enumerations as ``0=IDLE; 1=CHARGING``."""
        row = self.as_json()
        row["enum"] = "; ".join(f"{value}={name}" for value, name in self.enum)
        return row


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    unit_id: int
    kind: str  # site | meter | bess | swap | pv | charger
    info: SiteInfo  # nameplate data some points publish
    index: int = 0  # position in the twin's name list (pv arrays, connectors)
    rating_kw: float = 0.0
    twin_name: str = ""  # as the site file, faults and sensor models name it (``mcs_1`` is ``charger_mcs_1``)


@dataclass(frozen=True)
class RegisterMap:
    devices: tuple[Device, ...]
    points: tuple[Point, ...]

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    def of(self, unit_id: int) -> list[Point]:
        return [p for p in self.points if p.unit_id == unit_id]

    def point(self, device: str, name: str) -> Point:
        return next(p for p in self.points if p.device == device and p.point == name)

    def plain(self, unit_id: int) -> list[Point]:
        return [p for p in self.of(unit_id) if p.address < SUNSPEC_BASE]


SUNSPEC_BASE = 40000


def pv_device_name(array: str) -> str:
    return array if array.startswith("pv") else f"pv_{array}"


def charger_device_name(connector: str) -> str:
    return f"charger_{connector}"


def site_devices(site: Site) -> list[Device]:
    """Every device of ``site`` with its unit id."""
    info = site_info(site)
    devices = [Device("site", SITE_UNIT, "site", info, twin_name="site"),
               Device("meter", METER_UNIT, "meter", info, rating_kw=site.utility.contract_limit_kw, twin_name="meter")]
    if site.bess:
        devices.append(Device("bess", BESS_UNIT, "bess", info, rating_kw=site.bess.p_max_kw, twin_name=site.bess.name))
    if site.swap:
        devices.append(Device("swap", SWAP_UNIT, "swap", info, twin_name=site.swap.name))
    devices += [Device(pv_device_name(a.name), PV_FIRST_UNIT + i, "pv", info, i, a.inverter_kw, a.name)
                for i, a in enumerate(site.pv)]
    devices += [Device(charger_device_name(name), CHARGER_FIRST_UNIT + i, "charger", info, i, group.p_max_kw,
                       name) for i, (name, group) in enumerate(zip(site.connector_names, site.connector_groups))]
    if devices[-1].unit_id > MAX_UNIT:
        raise ValueError(f"{len(site.connector_names)} connectors do not fit in Modbus unit ids "
                         f"{CHARGER_FIRST_UNIT}..{MAX_UNIT}")
    return devices


Read = Callable[[Device, Measurements, "Snapshot"], float]  # what a point shows after a step


@dataclass(frozen=True, slots=True)
class PlainSpec:
    point: str
    type: str
    units: str
    description: str
    read: Read | None  # None: the bridge fills it (heartbeat)
    command: str | None = None  # writable: the quantity a write sets (its range: ``command_specs``)
    enum: tuple[tuple[int, str], ...] = ()


OFF_ON = ((0, "no"), (1, "yes"))
BESS_STATES = tuple((int(state), state.name) for state in BessState)


_r = _rw = PlainSpec  # the table below reads better with the access in front; _r rows pass no command


PLAIN_SPECS: dict[str, list[PlainSpec]] = {
    "site": [
        _rw("ev_cap_kw", "float32", "kW", "Site-wide cap on EV charging (chargers and swap station) in force",
            lambda d, m, s: m.ev_cap_kw, "ev_cap_kw"),
        _r("contract_limit_kw", "float32", "kW", "Demand contract limit at the utility connection",
           lambda d, m, s: s.contract_limit_kw),
        _r("sim_time_s", "uint32", "s", "Simulation time at the end of the last completed step",
           lambda d, m, s: m.t_s),
        _r("hour_local", "float32", "h", "Local time of day at the end of the last step", lambda d, m, s: m.hour_local),
        _r("tariff_cny_per_kwh", "float32", "CNY/kWh", "Import tariff in force",
           lambda d, m, s: m.tariff_cny_per_kwh),
        _r("valley_tariff_cny_per_kwh", "float32", "CNY/kWh", "Lowest import tariff of the day",
           lambda d, m, s: d.info.valley_cny_per_kwh),
        _r("ev_p_max_kw", "float32", "kW", "All connectors and pack chargers at full power",
           lambda d, m, s: d.info.ev_p_max_kw),
        _r("ev_p_kw", "float32", "kW", "EV charging power now, all connectors and the swap station (measured)",
           lambda d, m, s: m.ev_p_kw),
        _r("fault_count", "uint16", "", "Faults active now, scheduled or injected (alarm: non-zero)",
           lambda d, m, s: s.fault_count),
        _r("islanded", "uint16", "", "1 while the utility is lost and the battery forms the grid",
           lambda d, m, s: int(s.islanded), enum=OFF_ON),
        _rw("heartbeat", "uint16", "", "Write any value at least once per watchdog timeout; reads back the last "
            "value written", None, "heartbeat"),
        # appended after the heartbeat so that every earlier address stays where it was
        _r("ready", "uint16", "", "1 once the image holds a completed step; 0 before (every point reads 0 then)",
           None, enum=OFF_ON),
        _r("step", "uint32", "", "Number of the last completed step (1, 2, ...); under --clock lockstep the twin "
           "waits until this number is written to step_ack", None),
        _rw("step_ack", "uint32", "", "Write the step number you have finished with; under --clock lockstep the "
            "next step starts then (ignored by the paced clock); reads back the last acknowledged", None, "step_ack"),
        _r("writer_conflicts", "uint16", "", "Writes (setpoints, heartbeat, step_ack) by a client other than the "
           "site's writer, the first client that wrote while it stays connected (alarm: non-zero)", None),
    ],
    "meter": [
        _r("p_kw", "float32", "kW", "Active power at the utility connection, import positive",
           lambda d, m, s: m.grid_p_kw),
        _r("q_kvar", "float32", "kvar", "Reactive power at the utility connection, import positive",
           lambda d, m, s: m.grid_q_kvar),
        _r("v_pu", "float32", "pu", "Voltage at the point of connection", lambda d, m, s: m.poc_v_pu),
    ],
    "bess": [
        _rw("p_set_kw", "float32", "kW", "Power setpoint in force, discharge positive",
            lambda d, m, s: s.bess_p_set_kw, "p_set_kw"),
        _r("p_kw", "float32", "kW", "Active power, discharge positive", lambda d, m, s: m.bess_p_kw),
        _r("soc_pct", "float32", "%", "State of charge", lambda d, m, s: m.bess_soc_pct),
        _r("state", "uint16", "", "Operating state: FAULT while tripped or derated to 0 kW, else from the power "
           "(beyond 1e-6 kW)", lambda d, m, s: s.bess_state, enum=BESS_STATES),
        _r("p_max_kw", "float32", "kW", "Rated power (charge and discharge)", lambda d, m, s: d.info.bess_p_max_kw),
        _r("e_kwh", "float32", "kWh", "Rated energy", lambda d, m, s: d.info.bess_e_kwh),
        _r("soc_min_pct", "float32", "%", "Lowest state of charge of the usable window",
           lambda d, m, s: d.info.bess_soc_min_pct),
        _r("soc_max_pct", "float32", "%", "Highest state of charge of the usable window",
           lambda d, m, s: d.info.bess_soc_max_pct),
    ],
    "swap": [
        _r("p_kw", "float32", "kW", "Swap station draw (pack chargers and auxiliaries)", lambda d, m, s: s.swap_p_kw),
        _r("full_packs", "uint16", "", "Charged packs ready to swap", lambda d, m, s: s.swap_full_packs),
    ],
    "pv": [
        _rw("p_limit_pct", "float32", "%", "Active power limit in force, % of inverter rating",
            lambda d, m, s: s.pv_limit_pct[d.index], "p_limit_pct"),
        _r("p_kw", "float32", "kW", "Active power fed in", lambda d, m, s: s.pv_p_kw[d.index]),
        _r("p_available_kw", "float32", "kW", "Power available before curtailment",
           lambda d, m, s: s.pv_available_kw[d.index]),
    ],
    "charger": [
        _rw("p_limit_kw", "float32", "kW", "Power limit of this connector in force",
            lambda d, m, s: s.charger_limit_kw[d.index], "p_limit_kw"),
        _r("p_kw", "float32", "kW", "Charging power", lambda d, m, s: s.charger_p_kw[d.index]),
        _r("connected", "uint16", "", "1 while a vehicle is plugged in", lambda d, m, s: s.charger_connected[d.index],
           enum=OFF_ON),
        _r("ev_soc_pct", "float32", "%", "State of charge of the plugged-in vehicle (0 when none)",
           lambda d, m, s: s.charger_ev_soc_pct[d.index]),
    ],
}


def plain_layout(kind: str) -> dict[str, tuple[int, str]]:
    """point -> (address, type) of a device kind's plain map; the same for every site."""
    layout, address = {}, 0
    for spec in PLAIN_SPECS[kind]:
        layout[spec.point] = (address, spec.type)
        address += TYPE_COUNT[spec.type]
    return layout


def plain_points(device: Device, site: Site, specs: dict[tuple[str, str], CommandSpec]) -> list[Point]:
    """A device's plain map; ``specs`` (``command_specs(site)``) give the writable points their ranges."""
    points = []
    layout = plain_layout(device.kind)
    # a connector of a group with protocol = "ocpp" takes its limit from the CSMS only
    by_ocpp = device.kind == "charger" and site.connector_groups[device.index].protocol == "ocpp"
    for spec in PLAIN_SPECS[device.kind]:
        low, high, description, target, latency_s, ramp = None, None, spec.description, None, None, None
        command = None if by_ocpp else spec.command
        if command in BRIDGE_COMMANDS:
            low, high = BRIDGE_COMMANDS[command]
            latency_s = 0.0
        elif command:
            target = device.twin_name
            bounds = specs[(target, command)]
            low, high, latency_s, ramp = bounds.low, bounds.high, bounds.latency_s, _ramp_per_s(site, bounds)
        if command:
            description = f"{description}; writes accepted in {low:.10g}..{high:.10g}"
        elif spec.command:
            description = f"{description}; governed by OCPP (the group's protocol is ocpp)"
        address, kind = layout[spec.point]
        points.append(Point(device.name, device.unit_id, spec.point, "holding", address, kind, TYPE_COUNT[kind], 1.0,
                            spec.units, "RW" if command else "R", description, low, high, spec.enum, latency_s,
                            ramp, command, target))
    return points


def _ramp_per_s(site: Site, spec: CommandSpec) -> float | None:
    """How fast the device follows a new setpoint (None: at once; the EV cap ramps per connector)."""
    if spec.kind == "bess":
        return site.bess.ramp_kw_per_s
    if spec.kind == "charger":
        return site.connector_groups[spec.index].ramp_kw_per_s
    return None


# -- encoding -----------------------------------------------------------------------------
_STRUCT = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}


def encode(point: Point, value: float) -> list[int]:
    """Big-endian words of a plain-map value; out-of-range integers saturate rather than fail a step."""
    return encode_value(point.type, value)


def encode_value(type_name: str, value: float) -> list[int]:
    """Big-endian words of a value of ``type_name`` (``uint16`` ... ``float32``), integers saturating."""
    fmt, value = _STRUCT[type_name], float(value)
    if type_name == "float32":
        raw = struct.pack(fmt, value)
    else:
        low, high = _int_bounds(fmt)
        raw = struct.pack(fmt, int(min(max(round(value) if math.isfinite(value) else 0, low), high)))
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]


def _int_bounds(fmt: str) -> tuple[int, int]:
    bits = 8 * struct.calcsize(fmt)
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if fmt[-1].islower() else (0, (1 << bits) - 1)


class PlainEncoder:
    """The words of consecutive points in one ``struct`` call: what ``encode_value`` gives point by
    point, concatenated (a served step encodes every unit's map; point by point that cost more
    than the twin's step itself)."""

    def __init__(self, type_names: list[str]) -> None:
        formats = [_STRUCT[t] for t in type_names]
        self._values = struct.Struct(">" + "".join(f[1:] for f in formats))
        self._words = struct.Struct(f">{self._values.size // 2}H")
        self._bounds = [None if t == "float32" else _int_bounds(f) for t, f in zip(type_names, formats)]

    def words(self, values: list[float]) -> list[int]:
        raw = []
        for value, bounds in zip(map(float, values), self._bounds):  # readers may give numpy scalars
            raw.append(value if bounds is None else
                       int(min(max(round(value) if math.isfinite(value) else 0, bounds[0]), bounds[1])))
        return list(self._words.unpack(self._values.pack(*raw)))


def decode(type_name: str, words: list[int]) -> float:
    """A plain-map value from its big-endian words (``type_name`` as in the map's ``type``)."""
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    return float(struct.unpack(_STRUCT[type_name], raw)[0])


# -- exports ------------------------------------------------------------------------------
def to_json(reg_map: RegisterMap) -> str:
    return json.dumps([p.as_json() for p in reg_map.points], indent=1)


def to_csv(reg_map: RegisterMap) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(JSON_KEYS), lineterminator="\n")
    writer.writeheader()
    for p in reg_map.points:
        writer.writerow(p.as_row())
    return buffer.getvalue()


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def to_markdown(reg_map: RegisterMap, title: str) -> str:
    lines = [f"# Modbus register map: {title}", "",
             "Generated by `satwin registers` from `hil/maps/registers.py`; do not edit by hand.", "",
             "All points are holding registers (function 3; function 4 reads the same registers), 0-based "
             "PDU addresses, multi-register values as big-endian words. Plain points start at 0, SunSpec "
             f"blocks at {SUNSPEC_BASE} ('SunS'). Scale: engineering value = raw x scale.", "",
             "| unit | device | kind |", "|---:|---|---|"]
    lines += [f"| {d.unit_id} | {d.name} | {d.kind} |" for d in reg_map.devices]
    columns = ["point", "address", "type", "count", "scale", "units", "access", "min", "max", "latency_s",
               "ramp_per_s", "enum", "description"]
    for device in reg_map.devices:
        lines += ["", f"## {device.name} (unit {device.unit_id})", "",
                  "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for p in reg_map.of(device.unit_id):
            row = p.as_row()
            lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def export(reg_map: RegisterMap, fmt: str, title: str) -> str:
    """The map as ``json``, ``csv`` or ``md`` text."""
    if fmt == "md":
        return to_markdown(reg_map, title)
    return {"json": to_json, "csv": to_csv}[fmt](reg_map)

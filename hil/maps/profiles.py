"""Product register profiles: real meters and inverters as their documents publish them.

A profile is a data file, ``hil/profiles/<name>.toml``, that names its source document and
lists the product's points: table (``input`` = function 04, ``holding`` = function 03),
0-based address, type, word order, scale (engineering value = raw x scale) and what the
point shows — a ``quantity`` of the twin device it stands for (``QUANTITIES``), a fixed
``value`` or ``text``. A site file assigns a profile to a device (``[[modbus_devices]]``);
the points become ``Point`` rows like the plain map's, so export, docs and tests read them
the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from hil.maps.electrical import AcReadings, EnergyCounters, ac_reader, operating_state
from hil.maps.registers import Device, Point, decode, encode_value
from twin.config.errors import ScenarioError

if TYPE_CHECKING:  # a product's image reads a running twin's steps; exporting a map imports no twin
    from twin.model.core import Snapshot, Twin

TABLE_FUNCTIONS = {"input": 4, "holding": 3}
TYPE_COUNT = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
SERIAL_BASE = 10_000_000  # serial numbers read 1000xxxx, xxxx the unit id


@dataclass(frozen=True, slots=True)
class Reading:
    """What a profile point can show at one step."""

    device: Device
    ac: AcReadings
    energy: EnergyCounters
    state: str  # hil.maps.electrical.operating_state ("" for a meter)
    snap: Snapshot


KWH = 1e-3
QUANTITIES: dict[str, tuple[str, Callable[[Reading], float]]] = {  # name -> (units, value)
    "v_ph_v": ("V", lambda r: r.ac.v_ph_v),
    "v_ll_v": ("V", lambda r: r.ac.v_ll_v),
    "i_a": ("A", lambda r: r.ac.i_a),
    "i_sum_a": ("A", lambda r: 3.0 * r.ac.i_a),
    "p_w": ("W", lambda r: r.ac.p_w),
    "p_kw": ("kW", lambda r: r.ac.p_w * 1e-3),
    "p_ph_w": ("W", lambda r: r.ac.p_w / 3.0),
    "q_var": ("var", lambda r: r.ac.q_var),
    "q_kvar": ("kvar", lambda r: r.ac.q_var * 1e-3),
    "q_ph_var": ("var", lambda r: r.ac.q_var / 3.0),
    "s_va": ("VA", lambda r: r.ac.s_va),
    "s_ph_va": ("VA", lambda r: r.ac.s_va / 3.0),
    "pf": ("", lambda r: r.ac.pf),
    "hz": ("Hz", lambda r: r.ac.hz),
    "import_kwh": ("kWh", lambda r: r.energy.delivered_wh(r.device) * KWH),
    "export_kwh": ("kWh", lambda r: r.energy.received_wh(r.device) * KWH),
    "import_ph_kwh": ("kWh", lambda r: r.energy.delivered_wh(r.device) * KWH / 3.0),
    "export_ph_kwh": ("kWh", lambda r: r.energy.received_wh(r.device) * KWH / 3.0),
    "total_kwh": ("kWh", lambda r: (r.energy.delivered_wh(r.device) + r.energy.received_wh(r.device)) * KWH),
    "yield_kwh": ("kWh", lambda r: r.energy.delivered_wh(r.device) * KWH),
    "rated_kw": ("kW", lambda r: r.device.rating_kw),
    "p_limit_pct": ("%", lambda r: float(r.snap.pv_limit_pct[r.device.index])),
    "unit_id": ("", lambda r: 0.0),  # replaced by the served unit id (``ProductDevice``)
    "serial_number": ("", lambda r: 0.0),  # replaced by a number derived from the unit id
    "status": ("", lambda r: 0.0),  # replaced through the profile's [states] table
    "device_name": ("", lambda r: 0.0),  # a string: the twin's name of the device
}


@dataclass(frozen=True, slots=True)
class Shown:
    """What a profile point shows: one of a quantity of the device, a fixed number, a fixed text."""

    quantity: str | None = None
    value: float | None = None
    text: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    source: str
    kinds: tuple[str, ...]
    default_unit_id: int
    word_order: str
    baud: int
    parity: str
    response_ms: float
    controllers: str
    notes: str
    points: tuple[Point, ...]  # device and unit are the assignment's (``product_points``)
    shown: dict[str, Shown]  # by point name
    states: dict[str, int]

    def tables(self) -> set[str]:
        return {p.table for p in self.points}


def profile_names() -> list[str]:
    return sorted(f.name.removesuffix(".toml") for f in resources.files("hil").joinpath("profiles").iterdir()
                  if f.name.endswith(".toml"))


def _point(raw: dict, where: str) -> tuple[Point, Shown]:
    kind = raw["type"]
    if kind != "string" and kind not in TYPE_COUNT:
        raise ValueError(f"{where}.type: unknown type '{kind}'")
    if raw["table"] not in TABLE_FUNCTIONS:
        raise ValueError(f"{where}.table: must be input or holding")
    sources = [key for key in ("quantity", "value", "text") if key in raw]
    if len(sources) != 1:
        raise ValueError(f"{where}: give exactly one of quantity, value, text")
    if "quantity" in raw and raw["quantity"] not in QUANTITIES:
        raise ValueError(f"{where}.quantity: unknown quantity '{raw['quantity']}'")
    command = raw.get("command")
    point = Point("", 0, raw["name"], raw["table"], int(raw["address"]), kind,
                  int(raw.get("count", TYPE_COUNT.get(kind, 0))), float(raw.get("scale", 1.0)), raw.get("units", ""),
                  "RW" if command else "R", raw["description"], command=command)
    return point, Shown(raw.get("quantity"), raw.get("value"), raw.get("text"))


@functools.cache
def load_profile(name: str) -> Profile:
    """A shipped profile by name; ``ValueError`` names the file and field of a malformed one."""
    if name not in profile_names():
        raise KeyError(name)
    path = resources.files("hil").joinpath("profiles", f"{name}.toml")
    raw = tomllib.loads(path.read_text())
    rows = [_point(p, f"{path.name}: points[{i}]") for i, p in enumerate(raw["points"])]
    return Profile(raw["name"], raw["title"], raw["source"], tuple(raw["kinds"]), int(raw["default_unit_id"]),
                   raw["word_order"], int(raw["baud"]), raw["parity"], float(raw["response_ms"]),
                   raw["controllers"], raw.get("notes", ""), tuple(point for point, _ in rows),
                   {point.point: shown for point, shown in rows}, dict(raw.get("states", {})))


@dataclass(frozen=True)
class ProductAssignment:
    """One ``[[modbus_devices]]`` entry, resolved: the twin device, its profile, unit and transport."""

    device: Device
    profile: Profile
    unit_id: int
    transport: str

    def serves(self, transport: str) -> bool:
        return self.transport in (transport, "both")

    @property
    def name(self) -> str:
        return f"{self.device.name}.{self.profile.name}"


def product_points(assignment: ProductAssignment) -> list[Point]:
    """The profile's points as register-map rows of this assignment."""
    a = assignment
    return [dataclasses.replace(p, device=a.name, unit_id=a.unit_id, target=a.device.twin_name)
            for p in a.profile.points]


def resolve_products(site_entries, devices: tuple[Device, ...], site_path=None) -> list[ProductAssignment]:
    """The site's ``modbus_devices`` against the shipped profiles and the map's devices; a mistake
    raises ``ScenarioError`` naming the site file and the entry's field."""
    by_twin_name = {d.twin_name: d for d in devices}
    assignments: list[ProductAssignment] = []
    for i, entry in enumerate(site_entries):
        where = f"modbus_devices[{i}]"
        if entry.profile not in profile_names():
            raise ScenarioError(site_path, f"{where}.profile", f"unknown profile '{entry.profile}' "
                                f"(choose from {', '.join(profile_names())})")
        profile = load_profile(entry.profile)
        device = by_twin_name.get(entry.device)
        if device is None or device.kind not in profile.kinds:
            names = ", ".join(d.twin_name for d in devices if d.kind in profile.kinds) or "none on this site"
            raise ScenarioError(site_path, f"{where}.device", f"'{entry.device}' is not a "
                                f"{' or '.join(profile.kinds)} of this site; {profile.name} can stand for: {names}")
        assignment = ProductAssignment(device, profile, entry.unit_id or profile.default_unit_id, entry.transport)
        for transport in ("tcp", "rtu"):
            if not assignment.serves(transport):
                continue
            taken = {a.unit_id: a.name for a in assignments if a.serves(transport)}
            if transport == "tcp":  # an RTU line with products carries no plain unit (``bus_units``)
                taken.update({d.unit_id: d.name for d in devices})
            if assignment.unit_id in taken:
                raise ScenarioError(site_path, f"{where}.unit_id", f"unit {assignment.unit_id} on {transport} is "
                                    f"already {taken[assignment.unit_id]}; choose another unit id or transport")
        assignments.append(assignment)
    return assignments


def bus_units(devices: tuple[Device, ...], products: list[ProductAssignment], transport: str) -> tuple[list, list]:
    """(plain devices, product assignments) one transport carries. TCP: every plain unit and the
    products assigned to it. An RTU line: the products assigned to it — a meter bus carries the
    meter — or, when the site assigns none, the plain units."""
    served = [a for a in products if a.serves(transport)]
    if transport == "rtu" and served:
        return [], served
    return list(devices), served


def encode_point(spec: Point, value: float | str, word_order: str) -> list[int]:
    """A profile point's registers: raw = value / scale, words in the product's order."""
    if spec.type == "string":
        data = str(value).encode("ascii")[:2 * spec.count].ljust(2 * spec.count, b"\0")
        return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    words = encode_value(spec.type, float(value) / spec.scale)
    return words[::-1] if word_order == "little" else words


def decode_point(spec: Point, words: list[int], word_order: str) -> float:
    """The engineering value of a profile point's registers (what a client of the product computes)."""
    ordered = words[::-1] if word_order == "little" else words
    return decode(spec.type, ordered) * spec.scale


class ProductDevice:
    """The register image of one product device: words per table and address, rebuilt every step."""

    def __init__(self, assignment: ProductAssignment, twin: Twin, energy: EnergyCounters) -> None:
        self.assignment, self.twin, self.energy = assignment, twin, energy
        self.profile = assignment.profile
        self.read_ac = ac_reader(assignment.device, twin)
        self.points = product_points(assignment)
        self.words: dict[str, dict[int, int]] = {table: {} for table in TABLE_FUNCTIONS}
        self.writable = {p.address: p for p in self.points if p.access == "RW"}

    def blocks(self, table: str) -> list[tuple[int, int]]:
        """(start, count) of each run of adjacent points of a table (a gap between runs answers 02)."""
        runs: list[list[int]] = []
        for p in sorted((p for p in self.points if p.table == table), key=lambda p: p.address):
            if runs and p.address == runs[-1][0] + runs[-1][1]:
                runs[-1][1] += p.count
            else:
                runs.append([p.address, p.count])
        return [(start, count) for start, count in runs]

    def value(self, point: Point, reading: Reading) -> float | str:
        shown = self.profile.shown[point.point]
        if shown.text is not None:
            return shown.text
        if shown.value is not None:
            return float(shown.value)
        if shown.quantity == "unit_id":
            return float(self.assignment.unit_id)
        if shown.quantity == "serial_number":
            return float(SERIAL_BASE + self.assignment.unit_id)
        if shown.quantity == "status":
            return float(self.profile.states[reading.state])
        if shown.quantity == "device_name":
            return self.assignment.device.name
        return QUANTITIES[shown.quantity][1](reading)

    def image(self, snap: Snapshot) -> None:
        """This step's registers (swapped in whole per table)."""
        device = self.assignment.device
        ac = self.read_ac(snap.measured, snap)
        state = operating_state(self.twin, device, ac, snap) if device.kind != "meter" else ""
        reading = Reading(device, ac, self.energy, state, snap)
        words: dict[str, dict[int, int]] = {table: {} for table in TABLE_FUNCTIONS}
        for spec in self.profile.points:
            for offset, word in enumerate(encode_point(spec, self.value(spec, reading), self.profile.word_order)):
                words[spec.table][spec.address + offset] = word
        self.words = words

    def read(self, table: str, address: int, count: int) -> list[int]:
        image = self.words[table]
        return [image.get(address + i, 0) for i in range(count)]

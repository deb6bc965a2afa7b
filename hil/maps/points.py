"""The rows of a register map: ``Point``, ``Device`` and the map itself (no site logic here).

Kept apart from ``hil.maps.registers`` (which builds a site's map from the plain table and
``hil.maps.sunspec``) so that both of those can build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twin.model.controllers.base import Measurements, SiteInfo
from twin.model.core import Snapshot

JSON_KEYS = ("device", "unit_id", "point", "table", "address", "type", "count", "scale", "units", "access",
             "description")
TYPE_COUNT = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}


@dataclass(frozen=True, slots=True)
class Point:
    """One register point. A writable point sets ``command`` (the quantity) on ``target`` (the
    device as the site names it, see ``twin.model.commands``); ``read`` computes the value shown
    from a step."""

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
    command: str | None = field(default=None, compare=False)
    target: str | None = field(default=None, compare=False)
    read: Callable[[Measurements, Snapshot], float] | None = field(default=None, compare=False, repr=False)

    def as_json(self) -> dict:
        return {key: getattr(self, key) for key in JSON_KEYS}

    def as_row(self) -> dict:
        row = self.as_json()
        row.update(min=self.min, max=self.max)
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

"""The register image of every unit: rebuilt from each step's measurements, read by the server.

The register map is data built from the site (``hil.maps.site_map``); here it is bound to
the running twin: each plain point to its reader (``hil.maps.electrical.point_reader``, which
honours the scenario's sensor models), each SunSpec block to a ``SunSpecFeed`` (AC readings,
operating state, the energy counters this image integrates).

One lock guards the whole image — the plain words, the SunSpec models (their live points and
their control points) and the points the datastore fills itself — so a reader sees one step
and every write as a whole, never half of a SunSpec write or a block being rebuilt.

The datastore's own points (no ``read`` in the map's spec: ``heartbeat``, ``ready``, ``step``,
``step_ack``, ``writer_conflicts``) read ``own``. Before the first step every register reads 0,
``site.ready`` included, so a client can tell an empty image from a site at rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hil.maps.electrical import IDLE_W, AcReadings, EnergyCounters, ac_reader, operating_state, point_reader
from hil.maps.profiles import ProductDevice, resolve_products
from hil.maps.registers import SUNSPEC_BASE, Device, PlainEncoder, Point, RegisterMap, encode
from hil.maps.sunspec import SunSpecDevice
from hil.maps.sunspec_live import LIVE
from twin.model.commands import Command
from twin.model.controllers.base import Measurements
from twin.model.core import Snapshot, Twin


class SunSpecFeed:
    """One device's SunSpec block bound to the running twin: each step's live values
    (``hil.maps.sunspec_live.LIVE`` reads this object as its ``LiveDevice``)."""

    idle_w = IDLE_W

    def __init__(self, block: SunSpecDevice, twin: Twin, energy: EnergyCounters) -> None:
        self.block, self.device, self.twin, self.energy = block, block.device, twin, energy
        self.v_ph_nominal = block.v_ph_nominal
        self.read_ac = ac_reader(block.device, twin)
        self.ac: AcReadings | None = None  # this step's, set by ``image``
        self.state = "standby"

    def live(self, m: Measurements, s: Snapshot) -> dict[tuple[int, str], float]:
        """This step's values of the block's live points (read from the step alone: no lock needed)."""
        self.ac = self.read_ac(m, s)
        if self.device.kind != "meter":
            self.state = operating_state(self.twin, self.device, self.ac, s)
        return {key: value(self, m, s) for key, value in LIVE[self.device.kind].items()}


@dataclass
class UnitImage:
    points: list[Point]  # plain map, address order
    size: int
    sunspec: SunSpecDevice | None
    readers: list[Callable[[Measurements, Snapshot], float] | None] = field(default_factory=list)  # per point
    feed: SunSpecFeed | None = None
    plain: list[int] = field(default_factory=list)
    sunspec_words: list[int] = field(default_factory=list)
    by_address: dict[int, Point] = field(default_factory=dict)
    encoder: PlainEncoder = field(init=False)  # the plain words of a step in one call

    def __post_init__(self) -> None:
        self.encoder = PlainEncoder([p.type for p in self.points])
        self.plain = [0] * self.size
        self.sunspec_words = [0] * (self.sunspec.size if self.sunspec else 0)
        self.by_address = {p.address: p for p in self.points}


class RegisterImage:
    """Every unit's registers; ``lock`` is held by whoever changes or reads them."""

    def __init__(self, reg_map: RegisterMap, twin: Twin) -> None:
        self.lock = threading.Lock()
        # values of the points the datastore fills itself (set under the lock; a write reads back at once)
        self.own: dict[str, float] = {"heartbeat": 0, "ready": 0, "step": 0, "step_ack": 0, "writer_conflicts": 0}
        self.energy = EnergyCounters(twin)  # integrated from every step, whether a unit answers or not
        self.units: dict[int, UnitImage] = {}
        for device in reg_map.devices:
            self.units[device.unit_id] = self._bind(device, reg_map, twin)
        # devices also served as real products (site ``modbus_devices``), by the transports they are on
        self.products = [ProductDevice(a, twin, self.energy) for a in
                         resolve_products(twin.site.modbus_devices, reg_map.devices, twin.scenario.site_path)]

    def _bind(self, device: Device, reg_map: RegisterMap, twin: Twin) -> UnitImage:
        plain = reg_map.plain(device.unit_id)
        readers = [point_reader(device, point.point, twin) for point in plain]
        if not any(p.address >= SUNSPEC_BASE for p in reg_map.of(device.unit_id)):
            return UnitImage(plain, plain[-1].address + plain[-1].count, None, readers)
        block = SunSpecDevice(device, twin.site)
        return UnitImage(plain, plain[-1].address + plain[-1].count, block, readers,
                         SunSpecFeed(block, twin, self.energy))

    def update(self, snap: Snapshot, **own: float) -> list[Command]:
        """This step's image, with ``own`` (e.g. ``writer_conflicts``) set, ``ready`` 1 and ``step``
        counted on; returns what the SunSpec control timers command now."""
        self.energy.add(snap)
        timed: list[Command] = []
        measured = snap.measured
        plain_words, own_at = {}, {}
        for unit_id, unit in self.units.items():  # the plain words depend on the step alone: built unlocked
            values = []
            for point, read in zip(unit.points, unit.readers):
                if read is None:
                    own_at.setdefault(unit_id, []).append(point)
                    values.append(0.0)  # filled under the lock: a heartbeat written meanwhile is not lost
                else:
                    values.append(read(measured, snap))
            plain_words[unit_id] = unit.encoder.words(values)
        live = {unit_id: unit.feed.live(measured, snap) for unit_id, unit in self.units.items() if unit.feed}
        with self.lock:  # what a write can change too: the own points, the SunSpec models
            self.own.update(own, ready=1, step=self.own["step"] + 1)
            for unit_id, unit in self.units.items():
                unit.plain = plain_words[unit_id]
                for point in own_at.get(unit_id, ()):
                    self.set_own(unit, point, self.own[point.point])
                if unit.feed:
                    unit.sunspec_words = unit.sunspec.image(live[unit_id])
                    timed += [Command(*due, "sunspec timer", snap.t_s) for due in unit.sunspec.due(snap.t_s)]
        for product in self.products:
            product.image(snap)
        return timed

    def set_own(self, unit: UnitImage, point: Point, value: float) -> None:
        """A datastore point's value, in ``own`` and in the words (under the lock)."""
        self.own[point.point] = value
        unit.plain[point.address:point.address + point.count] = encode(point, value)

    def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Registers of the current image; the server has checked the range against the layout."""
        unit = self.units[unit_id]
        with self.lock:
            if address >= SUNSPEC_BASE:
                return unit.sunspec_words[address - SUNSPEC_BASE:address - SUNSPEC_BASE + count]
            return unit.plain[address:address + count]

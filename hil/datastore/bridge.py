"""Between the twin's run loop and the Modbus server — the datastore of the HIL bench.

* As a run-loop ``Sink`` it rebuilds every unit's register image from each step's
  measurements (``snapshot.measured``) and swaps it in whole, so a request never waits
  for a step and always sees one consistent step.
* It is the one place writes are validated (unknown address → 02, read-only or bad value
  → 03, any write in read-only mode → 01) and audited.
* A write becomes a ``Command`` (``twin.model.commands``) here and nowhere else; as the run
  loop's ``SetpointSource`` it hands accepted commands to ``Twin.apply`` at the next step (so
  device latency and ramps apply) and runs the heartbeat watchdog.

No pymodbus in here: exception codes are plain ints; ``hil.servers.modbus_tcp`` maps them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hil.datastore.audit import AuditLog
from hil.datastore.health import ControllerHealth
from hil.datastore.writers import Writers
from hil.maps.electrical import EnergyCounters
from hil.maps.profiles import ProductDevice, decode_point, resolve_products
from hil.maps.registers import BRIDGE_COMMANDS, SITE_UNIT, SUNSPEC_BASE, Point, RegisterMap, decode, encode
from hil.maps.sunspec import SunSpecDevice
from twin.model.commands import SITE_TARGET, Command
from twin.model.core import Snapshot, Twin
from twin.model.events import Event

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE = 1, 2, 3
SAFE_PV_LIMIT_PCT = 100.0  # PV is safe to run: it only lowers import


@dataclass
class UnitImage:
    points: list[Point]  # plain map, address order
    size: int
    sunspec: SunSpecDevice | None
    plain: list[int] = field(default_factory=list)
    sunspec_words: list[int] = field(default_factory=list)
    by_address: dict[int, Point] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.plain = [0] * self.size
        self.sunspec_words = [0] * (self.sunspec.size if self.sunspec else 0)
        self.by_address = {p.address: p for p in self.points}


def safe_ev_cap_kw(twin: Twin) -> float:
    """EV cap of the safe state: what the contract leaves beside the building loads at their peak and
    a margin for network losses (``[watchdog] safe_losses_margin_pct`` of the contract), so the site
    stays inside its contract with the battery idle and no PV:
    ``contract - sum(load peaks) - margin % x contract``."""
    site = twin.site
    contract_kw = site.utility.contract_limit_kw
    margin_kw = site.watchdog.safe_losses_margin_pct / 100.0 * contract_kw
    return max(0.0, contract_kw - sum(load.p_peak_kw for load in site.loads) - margin_kw)


def safe_commands(twin: Twin) -> tuple[Command, ...]:
    """The watchdog's safe state: battery idle, EV charging capped (``safe_ev_cap_kw``), PV free."""
    source = "watchdog"
    commands = [Command(SITE_TARGET, "ev_cap_kw", safe_ev_cap_kw(twin), source)]
    if twin.site.bess:
        commands.insert(0, Command(twin.site.bess.name, "p_set_kw", 0.0, source))
    commands += [Command(name, "p_limit_pct", SAFE_PV_LIMIT_PCT, source) for name in twin.pv.names]
    return tuple(commands)


class Bridge:
    def __init__(self, twin: Twin, reg_map: RegisterMap, audit_path: Path | None = None,
                 read_only: bool = False, single_writer: bool = False, audit_reads: bool = False,
                 audit_heartbeats: bool = False) -> None:
        self.twin = twin
        self.map = reg_map
        self.read_only = read_only
        self.units: dict[int, UnitImage] = {}
        self.energy = EnergyCounters(twin)  # integrated from every step, whether a unit answers or not
        for device in reg_map.devices:
            plain = reg_map.plain(device.unit_id)
            size = plain[-1].address + plain[-1].count
            has_sunspec = any(p.address >= SUNSPEC_BASE for p in reg_map.of(device.unit_id))
            self.units[device.unit_id] = UnitImage(plain, size,
                                                  SunSpecDevice(device, twin, self.energy) if has_sunspec else None)
        # devices also served as real products (site ``modbus_devices``), by the transports they are on
        self.products = [ProductDevice(a, twin, self.energy) for a in
                         resolve_products(twin.site.modbus_devices, reg_map.devices, twin.scenario.site_path)]
        self.sim_t_s = 0.0
        self.silent_units: frozenset[int] = frozenset()  # comms_loss faults: these units do not answer
        self.silent_devices: frozenset[str] = frozenset()  # the same, by device (product units follow them)
        self.accepted_writes = 0
        # the twin's name of each unit's device, as faults (comms_loss) name them
        self._twin_names = {d.unit_id: d.twin_name for d in reg_map.devices}
        self.connections = 0  # clients that connected (and passed the allow-list)
        self.heartbeat_timeout_s = twin.site.watchdog.heartbeat_timeout_s
        self.health = ControllerHealth(twin.site.watchdog.heartbeat_timeout_s, twin.scenario.step_s)
        self.safe_commands = safe_commands(twin)
        self.tripped = False
        self._lock = threading.Lock()  # guards what the server thread hands to the run loop
        self._pending: dict[tuple[str, str], Command] = {}  # accepted since the last step, per target
        self._commanded: dict[tuple[str, str], Command] = {}  # the last accepted, restored after a watchdog trip
        # values of the points the bridge fills itself (``read`` is None in the map)
        self.own: dict[str, float] = {"heartbeat": 0, "ready": 0, "step": 0, "step_ack": 0, "writer_conflicts": 0}
        self.on_step_ack: Callable[[int], None] | None = None  # the lockstep clock's ``acknowledge``
        self.writers = Writers(single_writer)
        self._heartbeats = 0
        self._heartbeats_at_trip = 0
        self._last_heartbeat_t_s = 0.0
        self.audit_path = audit_path
        self.audit = AuditLog(audit_path, audit_reads, audit_heartbeats)
        self.audit.step_s = twin.scenario.step_s

    # -- sink: register images from the step ---------------------------------------------
    def on_snapshot(self, snap: Snapshot) -> None:
        measured = snap.measured
        self.energy.add(snap)
        timed: list[Command] = []
        if snap.comms_lost or self.silent_units:
            self.silent_units = frozenset(unit for unit, name in self._twin_names.items() if name in snap.comms_lost)
        self.silent_devices = snap.comms_lost
        self.own.update(ready=1, step=self.own["step"] + 1, writer_conflicts=self.writers.conflicts)
        images = {}
        for unit_id, unit in self.units.items():
            words: list[int] = []
            for point in unit.points:
                value = self.own[point.point] if point.read is None else point.read(measured, snap)
                words += encode(point, value)
            images[unit_id] = (words, unit.sunspec.image(measured, snap) if unit.sunspec else [])
            if unit.sunspec:
                timed += [Command(*due, "sunspec timer", snap.t_s) for due in unit.sunspec.due(snap.t_s)]
        for product in self.products:
            product.image(snap)
        self.sim_t_s = snap.t_s  # before the new step is visible: a write that answers it carries its time
        # each unit's image is swapped whole; the site unit, which says which step this is, goes last,
        # so a client that has seen ``site.step`` reads that step from every other unit
        for unit_id in sorted(images, key=lambda unit_id: unit_id == SITE_UNIT):
            self.units[unit_id].plain, self.units[unit_id].sunspec_words = images[unit_id]
        if timed:
            with self._lock:
                for command in timed:
                    self._accept(command)

    def on_events(self, events: list[Event]) -> None:
        pass

    # -- datastore ------------------------------------------------------------------------
    def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Registers of the current image; the server has checked the range against the layout."""
        unit = self.units[unit_id]
        if address >= SUNSPEC_BASE:
            return unit.sunspec_words[address - SUNSPEC_BASE:address - SUNSPEC_BASE + count]
        return unit.plain[address:address + count]

    def write(self, unit_id: int, address: int, values: list[int], client: str, function: int = 16) -> int:
        """Validate a write as a whole, apply it, audit it; returns 0 or a Modbus exception code."""
        written: dict[str, float] = {}
        if self.read_only or not self.writers.admit(client):
            code = ILLEGAL_FUNCTION
        elif address >= SUNSPEC_BASE:
            code = self._write_sunspec(self.units[unit_id], address, values, self.writers.label(client), written)
        else:
            code = self._write_plain(self.units[unit_id], address, values, self.writers.label(client), written)
        self.log_request(client, function, unit_id, address, len(values), values, code, written)
        return code

    def write_product(self, product: ProductDevice, address: int, values: list[int], client: str,
                      function: int = 16) -> int:
        """A write to a product profile's writable point (e.g. a SUN2000's power derating)."""
        code = ILLEGAL_FUNCTION if self.read_only or not self.writers.admit(client) else 0
        accepted: list[Command] = []
        offset = 0
        while not code and offset < len(values):
            point = product.writable.get(address + offset)
            if point is None or offset + point.count > len(values):
                code = ILLEGAL_ADDRESS if point is None else ILLEGAL_VALUE
                break
            value = decode_point(point, values[offset:offset + point.count], product.profile.word_order)
            bounds = self.twin.command_specs[(point.target, point.command)]
            if not (math.isfinite(value) and bounds.low <= value <= bounds.high):
                code = ILLEGAL_VALUE
            accepted.append(Command(point.target, point.command, value, self.writers.label(client), self.sim_t_s))
            offset += point.count
        if not code:
            with self._lock:
                for command in accepted:
                    self._accept(command)
        self.log_request(client, function, product.assignment.unit_id, address, len(values), values, code,
                         {f"{c.target}.{c.quantity}": c.value for c in accepted} if not code else None)
        return code

    def _write_plain(self, unit: UnitImage, address: int, values: list[int], source: str,
                     written: dict[str, float]) -> int:
        accepted: list[tuple[Point, float]] = []
        offset = 0
        while offset < len(values):
            point = unit.by_address.get(address + offset)
            if point is None or offset + point.count > len(values):
                return ILLEGAL_VALUE  # a write must cover whole points
            if point.access != "RW":
                return ILLEGAL_VALUE
            value = decode(point.type, values[offset:offset + point.count])
            if not (math.isfinite(value) and point.min <= value <= point.max):
                return ILLEGAL_VALUE
            if point.command == "step_ack" and value > self.own["step"]:
                return ILLEGAL_VALUE  # a step that has not been published cannot be finished with
            accepted.append((point, value))
            offset += point.count
        with self._lock:
            for point, value in accepted:
                written[f"{point.device}.{point.point}"] = value
                if point.command in BRIDGE_COMMANDS:
                    self._own_write(unit, point, int(value))
                else:
                    self._accept(Command(point.target, point.command, value, source, self.sim_t_s))
                    if unit.sunspec:
                        unit.sunspec.follow(point.command, value)
        return 0

    def _write_sunspec(self, unit: UnitImage, address: int, values: list[int], source: str,
                       points: dict[str, float]) -> int:
        block = unit.sunspec
        written: dict[tuple[int, str], float] = {}
        for offset, raw in enumerate(values):
            target = block.writable.get(address + offset)
            if target is None:
                return ILLEGAL_VALUE  # inside the SunSpec block but not a control point we accept
            model_id, name, (low, high) = target
            value = block.engineering(model_id, name, raw)
            if not low <= value <= high:
                return ILLEGAL_VALUE
            written[(model_id, name)] = value
        with self._lock:
            for target, quantity, value in block.command(written, self.sim_t_s):
                self._accept(Command(target, quantity, value, source, self.sim_t_s))
        points.update({f"{block.device.name}.{model_id}.{name}": value for (model_id, name), value in written.items()})
        return 0

    def _accept(self, command: Command) -> None:
        """Queue a validated command for the next step (called under the lock)."""
        self._pending[(command.target, command.quantity)] = command

    def _own_write(self, unit: UnitImage, point: Point, value: int) -> None:
        """A write to a point the bridge interprets itself; it reads back at once, not a step later."""
        self.own[point.point] = value
        unit.plain[point.address:point.address + point.count] = encode(point, value)
        if point.command == "heartbeat":
            self._heartbeats += 1
            self._last_heartbeat_t_s = self.sim_t_s
        elif self.on_step_ack is not None:
            self.on_step_ack(value)

    def log_request(self, client: str, function: int, unit_id: int, address: int, count: int, values: list[int],
                    code: int, points: dict[str, float] | None = None) -> None:
        """Audit one request (``values`` empty for a read); counts accepted writes."""
        if code == 0 and values:
            self.accepted_writes += 1
        self.audit.request(self.sim_t_s, client, function, unit_id, address, count, values, code, points)

    def disconnected(self, client: str) -> None:
        self.writers.disconnected(client)

    def close(self) -> None:
        self.audit.close()

    # -- setpoint source and watchdog -----------------------------------------------------
    def __call__(self, snap: Snapshot | None) -> list[Command] | None:
        now_s = snap.t_s if snap is not None else 0.0
        with self._lock:
            pending, self._pending = self._pending, {}
            heartbeats, last_beat_s = self._heartbeats, self._last_heartbeat_t_s
        self._commanded.update(pending)
        self.health.observe(now_s, last_beat_s)
        for client, owner in self.writers.drain_conflicts():
            self.twin.log("writer_conflict", "site", value=self.writers.conflicts,
                          detail=f"{client} wrote while {owner} is the site's writer"
                                 + (" (refused: --single-writer)" if self.writers.single_writer else ""))
        if self.tripped:
            if heartbeats == self._heartbeats_at_trip:
                return None  # stay in the safe state; writes are kept for the recovery
            self.tripped = False
            self.health.recovered(now_s)
            self.twin.log("watchdog_recovered", "site", value=now_s - last_beat_s,
                          detail="heartbeat resumed; last written setpoints restored")
            return list(self._commanded.values())
        silent_s = now_s - last_beat_s
        if silent_s > self.heartbeat_timeout_s:
            self.tripped = True
            self.health.tripped(now_s)
            self._heartbeats_at_trip = heartbeats
            safe = {c.quantity: c.value for c in self.safe_commands}
            self.twin.log("watchdog", "site", value=silent_s,
                          detail=f"no heartbeat for {silent_s:g} s: safe state bess {safe.get('p_set_kw', 0.0):g} kW, "
                                 f"EV cap {safe['ev_cap_kw']:g} kW, every PV array {SAFE_PV_LIMIT_PCT:g} %")
            return list(self.safe_commands)
        return list(pending.values()) if pending else None

"""Between the twin's run loop and the Modbus server — the datastore of the HIL bench.

The pieces, each its own module: the register image (``image``), write validation
(``validation``: registers to ``Command``s, the one range check), the heartbeat watchdog
(``watchdog``) and the audit log (``audit``). The bridge wires them to the run loop:

* as a run-loop ``Sink`` it rebuilds every unit's image from each step's measurements, so
  a request never waits for a step and always sees one consistent step;
* as the server's datastore it validates, audits and applies writes (unknown address → 02,
  read-only or bad value → 03, any write in read-only mode or, with ``single_writer``, from a
  second client → 01; a write the audit cannot hold → 04); every request is audited;
* as the run loop's ``SetpointSource`` it hands accepted commands to ``Twin.apply`` at the
  next step (so device latency and ramps apply) and runs the watchdog;
* it tracks the controller's health (``health``) and who writes (``writers``), and hands a
  ``step_ack`` to the lockstep clock (``on_step_ack``).

No pymodbus in here: exception codes are plain ints; ``hil.servers.modbus_tcp`` maps them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from hil.datastore.audit import AuditLog
from hil.datastore.health import ControllerHealth
from hil.datastore.image import RegisterImage, UnitImage
from hil.datastore.validation import ILLEGAL_FUNCTION, ValidWrite, validate, validate_product
from hil.datastore.watchdog import Watchdog
from hil.datastore.writers import Writers
from hil.maps.profiles import ProductDevice
from hil.maps.registers import RegisterMap
from twin.model.commands import Command
from twin.model.core import Snapshot, Twin
from twin.model.events import Event

DEVICE_FAILURE = 4  # Modbus exception 04: the write could not be audited
WRITE_SINGLE, WRITE_MULTIPLE = 6, 16  # Modbus function codes, as the audit records them


class Bridge:
    def __init__(self, twin: Twin, reg_map: RegisterMap, audit_path: Path | None = None,
                 read_only: bool = False, single_writer: bool = False, audit_reads: bool = False,
                 audit_heartbeats: bool = False) -> None:
        self.twin = twin
        self.map = reg_map
        self.read_only = read_only
        self.image = RegisterImage(reg_map, twin)
        self.units = self.image.units
        self.energy = self.image.energy
        self.products = self.image.products
        self.sim_t_s = 0.0
        self.silent_units: frozenset[int] = frozenset()  # comms_loss faults: these units do not answer
        self.silent_devices: frozenset[str] = frozenset()  # the same, by device (product units follow them)
        self.accepted_writes = 0
        # the twin's name of each unit's device, as faults (comms_loss) name them
        self._twin_names = {d.unit_id: d.twin_name for d in reg_map.devices}
        self.connections = 0  # clients that connected (and passed the allow-list)
        # silence is judged against the site's own timeout, whatever the run's watchdog uses
        self.health = ControllerHealth(twin.site.watchdog.heartbeat_timeout_s, twin.scenario.step_s)
        self.watchdog = Watchdog(twin.site, twin.log, self.health)
        self.writers = Writers(single_writer)
        self.on_step_ack: Callable[[int], None] | None = None  # the lockstep clock's ``acknowledge``
        self._lock = self.image.lock  # one lock: the image, the SunSpec controls, what the run loop takes
        self._pending: dict[tuple[str, str], Command] = {}  # accepted since the last step, per target
        self.audit_path = audit_path
        self.audit = AuditLog(audit_path, audit_reads, audit_heartbeats)
        self.audit.step_s = twin.scenario.step_s
        self.audit_failed = False  # the last write could not be audited (and was refused)

    @property
    def heartbeat_timeout_s(self) -> float:
        return self.watchdog.heartbeat_timeout_s

    @heartbeat_timeout_s.setter
    def heartbeat_timeout_s(self, value: float) -> None:
        self.watchdog.heartbeat_timeout_s = value

    @property
    def tripped(self) -> bool:
        return self.watchdog.tripped

    @property
    def safe_commands(self) -> tuple[Command, ...]:
        return self.watchdog.safe_commands

    # -- sink: register images from the step ---------------------------------------------
    def on_snapshot(self, snap: Snapshot) -> None:
        if snap.comms_lost or self.silent_units:
            self.silent_units = frozenset(unit for unit, name in self._twin_names.items() if name in snap.comms_lost)
        self.silent_devices = snap.comms_lost
        # the time first: a write that answers this step carries its time
        self.sim_t_s = snap.t_s
        timed = self.image.update(snap, writer_conflicts=self.writers.conflicts)
        if timed:
            with self._lock:
                self._queue(timed)

    def on_events(self, events: list[Event]) -> None:
        pass

    # -- datastore ------------------------------------------------------------------------
    def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Registers of the current image; the server has checked the range against the layout."""
        return self.image.read(unit_id, address, count)

    def write(self, unit_id: int, address: int, values: list[int], client: str, function: int = WRITE_MULTIPLE) -> int:
        """Validate a write as a whole, audit it, then apply it; returns 0 or a Modbus exception code."""
        request = (client, function, unit_id, address, values)
        if self.read_only or not self.writers.admit(client):
            return self._audited(*request, ILLEGAL_FUNCTION)
        unit, source = self.units[unit_id], self.writers.label(client)
        with self._lock:
            checked = validate(unit, address, values, self.twin.command_specs, source, self.sim_t_s,
                               int(self.image.own["step"]))
            if not isinstance(checked, ValidWrite):
                return self._audited(*request, checked)
            code = self._audited(*request, 0, checked)
            if code == 0:
                self._take(unit, checked, source)
        return code

    def write_product(self, product: ProductDevice, address: int, values: list[int], client: str,
                      function: int = WRITE_MULTIPLE) -> int:
        """A write to a product profile's writable point (e.g. a SUN2000's power derating)."""
        request = (client, function, product.assignment.unit_id, address, values)
        if self.read_only or not self.writers.admit(client):
            return self._audited(*request, ILLEGAL_FUNCTION)
        with self._lock:
            checked = validate_product(product, address, values, self.twin.command_specs, self.writers.label(client),
                                       self.sim_t_s)
            if not isinstance(checked, ValidWrite):
                return self._audited(*request, checked)
            code = self._audited(*request, 0, checked)
            if code == 0:
                self._queue(checked.commands)
        return code

    def _audited(self, client: str, function: int, unit_id: int, address: int, values: list[int], code: int,
                 write: ValidWrite | None = None) -> int:
        """Audit first: a write the audit log cannot hold (a full disk) is refused with exception 04
        and has no effect, so nothing acts that the log does not show."""
        try:
            self._audit(client, function, unit_id, address, len(values), values, code, write)
        except OSError as exc:
            self._audit_failed(exc)
            return DEVICE_FAILURE
        self.audit_failed = False
        return code

    def _audit_failed(self, exc: OSError) -> None:
        if not self.audit_failed:
            logging.getLogger("satwin.hil").error("the audit log cannot be written (%s): writes are refused "
                                                  "with exception 04 until it can", exc.strerror or exc)
        self.audit_failed = True

    def _take(self, unit: UnitImage, write: ValidWrite, source: str) -> None:
        """Apply a validated write (under the lock): queue its commands, update what reads back."""
        for point, value in write.own:  # reads back at once, not a step later
            self.image.set_own(unit, point, value)
            if point.command == "heartbeat":
                self.watchdog.beat(self.sim_t_s)
            elif self.on_step_ack is not None:
                self.on_step_ack(value)
        if unit.sunspec and write.sunspec:  # the block's timers decide what is commanded now
            write.commands += [Command(target, quantity, value, source, self.sim_t_s)
                               for target, quantity, value in unit.sunspec.command(write.sunspec, self.sim_t_s)]
        self._queue(write.commands)
        if unit.sunspec:
            for quantity, value in write.mirror:
                unit.sunspec.follow(quantity, value)

    def _queue(self, commands: list[Command]) -> None:
        """Hand commands to the next step (under the lock), the last per target winning."""
        for command in commands:
            self._pending[(command.target, command.quantity)] = command

    def log_request(self, client: str, function: int, unit_id: int, address: int, count: int, values: list[int],
                    code: int) -> None:
        """Audit a request the server answered without the bridge (a read, a refused function or
        address); an audit that cannot be written is logged once, not raised into the server."""
        try:
            self._audit(client, function, unit_id, address, count, values, code)
        except OSError as exc:
            self._audit_failed(exc)

    def _audit(self, client: str, function: int, unit_id: int, address: int, count: int, values: list[int],
               code: int, write: ValidWrite | None = None) -> None:
        """One request in the audit (``values`` empty for a read); an ``OSError`` (full disk) leaves the
        log whole and is raised. Counts accepted writes."""
        self.audit.request(self.sim_t_s, client, function, unit_id, address, count, values, code,
                           write.points if write else None, write.commands if write else ())
        if code == 0 and values:
            self.accepted_writes += 1

    def disconnected(self, client: str) -> None:
        self.writers.disconnected(client)

    def close(self) -> None:
        self.audit.close()

    # -- setpoint source and watchdog -----------------------------------------------------
    def __call__(self, snap: Snapshot | None) -> list[Command] | None:
        now_s = snap.t_s if snap is not None else 0.0
        for client, owner in self.writers.drain_conflicts():
            self.twin.log("writer_conflict", "site", value=self.writers.conflicts,
                          detail=f"{client} wrote while {owner} is the site's writer"
                                 + (" (refused: --single-writer)" if self.writers.single_writer else ""))
        with self._lock:
            pending, self._pending = self._pending, {}
            return self.watchdog.decide(now_s, pending)

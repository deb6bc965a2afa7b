"""Between the twin's run loop and the Modbus server — the datastore of the HIL bench.

The pieces, each its own module: the register image (``image``), write validation
(``validation``: registers to ``Command``s, the one range check), the heartbeat watchdog
(``watchdog``) and the audit log (``audit``). The bridge wires them to the run loop:

* as a run-loop ``Sink`` it rebuilds every unit's image from each step's measurements, so
  a request never waits for a step and always sees one consistent step;
* as the server's datastore it validates, applies and audits writes (unknown address → 02,
  read-only or bad value → 03, any write in read-only mode or from a client whose TLS
  role may not write → 01);
* as the run loop's ``SetpointSource`` it hands accepted commands to ``Twin.apply`` at the
  next step (so device latency and ramps apply) and runs the watchdog.

No pymodbus in here: exception codes are plain ints; ``hil.servers.modbus_tcp`` maps them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hil.datastore.audit import AuditLog
from hil.datastore.image import RegisterImage, UnitImage
from hil.datastore.validation import ILLEGAL_FUNCTION, ValidWrite, validate, validate_product

DEVICE_FAILURE = 4  # Modbus exception 04: the write could not be audited
from hil.datastore.watchdog import Watchdog
from hil.maps.profiles import ProductDevice
from hil.maps.registers import RegisterMap
from twin.model.commands import Command
from twin.model.core import Snapshot, Twin
from twin.model.events import Event


class Bridge:
    def __init__(self, twin: Twin, reg_map: RegisterMap, audit_path: Path | None = None,
                 read_only: bool = False) -> None:
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
        self.watchdog = Watchdog(twin.site, twin.log)
        self._lock = self.image.lock  # one lock: the image, the SunSpec controls, what the run loop takes
        self._pending: dict[tuple[str, str], Command] = {}  # accepted since the last step, per target
        self.audit_path = audit_path
        self.audit = AuditLog(audit_path)
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
        timed = self.image.update(snap)
        self.sim_t_s = snap.t_s
        if timed:
            with self._lock:
                self._queue(timed)

    def on_events(self, events: list[Event]) -> None:
        pass

    # -- datastore ------------------------------------------------------------------------
    def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Registers of the current image; the server has checked the range against the layout."""
        return self.image.read(unit_id, address, count)

    def write(self, unit_id: int, address: int, values: list[int], client: str, may_write: bool = True) -> int:
        """Validate a write as a whole, audit it, then apply it; returns 0 or a Modbus exception code.
        ``may_write`` False: the client's role is read-only (``hil.servers.tls``)."""
        if self.read_only or not may_write:
            return self._audited(client, unit_id, address, values, ILLEGAL_FUNCTION)
        unit, source = self.units[unit_id], f"modbus {client}"
        with self._lock:
            checked = validate(unit, address, values, self.twin.command_specs, source, self.sim_t_s)
            if not isinstance(checked, ValidWrite):
                return self._audited(client, unit_id, address, values, checked)
            code = self._audited(client, unit_id, address, values, 0, checked.commands)
            if code == 0:
                self._take(unit, checked, source)
        return code

    def write_product(self, product: ProductDevice, address: int, values: list[int], client: str,
                      may_write: bool = True) -> int:
        """A write to a product profile's writable point (e.g. a SUN2000's power derating)."""
        unit_id = product.assignment.unit_id
        if self.read_only or not may_write:
            return self._audited(client, unit_id, address, values, ILLEGAL_FUNCTION)
        with self._lock:
            checked = validate_product(product, address, values, self.twin.command_specs, f"modbus {client}",
                                       self.sim_t_s)
            if not isinstance(checked, ValidWrite):
                return self._audited(client, unit_id, address, values, checked)
            code = self._audited(client, unit_id, address, values, 0, checked.commands)
            if code == 0:
                self._queue(checked.commands)
        return code

    def _audited(self, client: str, unit_id: int, address: int, values: list[int], code: int,
                 commands: list[Command] | None = None) -> int:
        """Audit first: a write the audit log cannot hold (a full disk) is refused with exception 04
        and has no effect, so nothing acts that the log does not show."""
        try:
            self.log_write(client, unit_id, address, values, code, commands)
        except OSError as exc:
            if not self.audit_failed:
                logging.getLogger("satwin.hil").error("the audit log cannot be written (%s): writes are refused "
                                                      "with exception 04 until it can", exc.strerror or exc)
            self.audit_failed = True
            return DEVICE_FAILURE
        self.audit_failed = False
        return code

    def _take(self, unit: UnitImage, write: ValidWrite, source: str) -> None:
        """Apply a validated write (under the lock): queue its commands, update what reads back."""
        if write.heartbeat is not None:
            self.watchdog.beat(self.sim_t_s)
            self.image.heartbeat_value = write.heartbeat
            heartbeat = next(p for p in unit.points if p.command == "heartbeat")
            unit.plain[heartbeat.address] = write.heartbeat  # reads back at once, not a step later
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

    def log_write(self, client: str, unit_id: int, address: int, values: list[int], code: int,
                  commands: list[Command] | None = None) -> None:
        """One line of the audit log; an ``OSError`` (full disk) leaves the log whole and is raised."""
        self.audit.record(self.sim_t_s, client, unit_id, address, values, code, commands or ())
        if code == 0:
            self.accepted_writes += 1

    def close(self) -> None:
        self.audit.close()

    # -- setpoint source and watchdog -----------------------------------------------------
    def __call__(self, snap: Snapshot | None) -> list[Command] | None:
        now_s = snap.t_s if snap is not None else 0.0
        with self._lock:
            pending, self._pending = self._pending, {}
            return self.watchdog.decide(now_s, pending)

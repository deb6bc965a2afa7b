"""The audit of a served run: every Modbus request, one JSON line each, in ``modbus_audit.jsonl``.

A line has ``wall_time``, ``sim_t_s``, ``client`` (ip:port), ``function`` (the Modbus
function code), ``unit_id``, ``address``, ``count`` (registers), ``values`` (raw registers
written, empty for a read), ``result`` (``ok`` or ``exception NN``) and, for an accepted
write, ``points`` (what it set, by name and engineering value).

* Writes are always recorded, accepted or refused; reads only with ``audit_reads``.
* Heartbeats (and step acknowledgements) are summarised unless ``audit_heartbeats``: one
  ``{"kind": "heartbeats", ...}`` line per client for each unbroken run of them (a run
  breaks when a step passes without one), with its first and last simulated time and
  count. That keeps a day at 1 s steps at a few lines, and it is enough to replay when the
  watchdog would have tripped (``hil.replay``).

A refused write has no ``points``; an accepted one also has ``commands``, the ``Command``s it
became — the same values (target, quantity, unit, value, source, sim time) that the events
table records when the twin applies them. Lines are written whole and the file rotates
(``audit_file``); the file is opened at the first line, so a run that fails to start leaves
none behind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hil.datastore.audit_file import AuditFile
from twin.model.commands import Command

SUMMARISED = ("heartbeat", "step_ack")  # points whose writes are summarised unless asked for


@dataclass
class _Run:
    """An unbroken run of summarised writes of one point by one client."""

    point: str
    client: str
    unit_id: int
    address: int
    first_sim_t_s: float
    last_sim_t_s: float
    count: int = 1


class AuditLog:
    def __init__(self, path: Path | None, audit_reads: bool = False, audit_heartbeats: bool = False) -> None:
        self.path = path
        self.audit_reads = audit_reads
        self.audit_heartbeats = audit_heartbeats
        self.step_s = 1.0  # a run of heartbeats breaks when more than a step passes without one
        self.file = AuditFile(path) if path is not None else None  # whole lines, rotated
        self._runs: dict[tuple[str, str], _Run] = {}

    def request(self, sim_t_s: float, client: str, function: int, unit_id: int, address: int, count: int,
                values: list[int], code: int, points: dict[str, float] | None = None,
                commands: Sequence[Command] = ()) -> None:
        """One request; a read is kept only with ``audit_reads``. Raises ``OSError`` when the line
        cannot be written (the bridge then refuses the write)."""
        if not values and not self.audit_reads:
            return
        if code == 0 and points and not self.audit_heartbeats and \
                all(name.rpartition(".")[2] in SUMMARISED for name in points):
            for name in points:
                self._summarise(name.rpartition(".")[2], client, unit_id, address, sim_t_s)
            return
        record = {"wall_time": _now(), "sim_t_s": sim_t_s, "client": client, "function": function,
                  "unit_id": unit_id, "address": address, "count": count, "values": list(values),
                  "result": "ok" if code == 0 else f"exception {code:02d}"}
        if code == 0 and points:
            record["points"] = points
        if code == 0 and commands:
            record["commands"] = [command_record(c) for c in commands]
        self._write(record)

    def _summarise(self, point: str, client: str, unit_id: int, address: int, sim_t_s: float) -> None:
        key = (point, client)
        run = self._runs.get(key)
        if run is not None and sim_t_s - run.last_sim_t_s <= self.step_s + 1e-9:
            run.last_sim_t_s = sim_t_s
            run.count += 1
            return
        if run is not None:
            self._flush(run)
        self._runs[key] = _Run(point, client, unit_id, address, sim_t_s, sim_t_s)

    def _flush(self, run: _Run) -> None:
        self._write({"kind": f"{run.point}s", "wall_time": _now(), "client": run.client, "unit_id": run.unit_id,
                     "address": run.address, "first_sim_t_s": run.first_sim_t_s, "last_sim_t_s": run.last_sim_t_s,
                     "count": run.count})

    def _write(self, record: dict) -> None:
        if self.file is not None:
            self.file.write_line(json.dumps(record))

    def close(self) -> None:
        for run in self._runs.values():
            self._flush(run)
        self._runs.clear()
        if self.file is not None:
            self.file.close()


def command_record(command: Command) -> dict:
    return {"target": command.target, "quantity": command.quantity, "unit": command.unit, "value": command.value,
            "source": command.source, "t_s": command.t_s}


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def read_audit(path: Path) -> list[dict]:
    """Every line of an audit, rotated parts (``.N`` ... ``.1``) first (a missing file is an empty audit)."""
    path = Path(path)
    rotated = sorted((p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit()),
                     key=lambda p: int(p.suffix[1:]), reverse=True)
    lines = []
    for part in rotated + ([path] if path.exists() else []):
        lines += [json.loads(line) for line in part.read_text().splitlines() if line.strip()]
    return lines

"""The audit log of a served run: every write, accepted or not, one JSON line each.

A line has the wall time, the simulated time, the client, the raw registers, the result and,
for an accepted write, the ``Command``s it became — the same values (target, quantity, unit,
value, source, sim time) that the events table records when the twin applies them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from hil.datastore.audit_file import AuditFile
from twin.model.commands import Command


def command_record(command: Command) -> dict:
    return {"target": command.target, "quantity": command.quantity, "unit": command.unit, "value": command.value,
            "source": command.source, "t_s": command.t_s}


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.file = AuditFile(path) if path is not None else None  # whole lines, rotated (``audit_file``)

    def record(self, sim_t_s: float, client: str, unit_id: int, address: int, values: list[int], code: int,
               commands: Sequence[Command] = ()) -> None:
        if self.file is None:
            return
        line = {"wall_time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
                "sim_t_s": sim_t_s, "client": client, "unit_id": unit_id, "address": address,
                "values": list(values), "result": "ok" if code == 0 else f"exception {code:02d}"}
        if commands:
            line["commands"] = [command_record(c) for c in commands]
        self.file.write_line(json.dumps(line))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

"""The run's event log: arrivals, departures, balks, faults, setpoint changes, watchdog.

The twin only appends; the runner drains the list into the recorder after each step, so
the model stays free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import simpy


class Event(NamedTuple):
    t_s: float
    kind: str
    device: str
    vehicle_id: int
    value: float
    detail: str


EVENT_COLUMNS = Event._fields


@dataclass
class EventLog:
    env: simpy.Environment
    pending: list[Event] = field(default_factory=list)

    def __call__(self, kind: str, device: str = "", vehicle_id: int = -1, value: float = float("nan"),
                 detail: str = "") -> None:
        self.pending.append(Event(float(self.env.now), kind, device, vehicle_id, float(value), detail))

    def drain(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events

"""``--start HH:MM``: begin a scenario later in its day, with everything else where it was.

The scenario keeps its calendar (PV, tariffs, traffic follow the clock) and its end; it
just starts at ``HH:MM`` of its first day. Faults and sensor disturbances stay at the same
clock time: their offsets move back by the skipped span, one under way at the new start
keeps its remainder, one already over is dropped. The RNG is seeded as before, so the
traffic of the skipped hours is not replayed and the arrivals after the start differ from
a full run's; compare two runs with the same ``--start``.
"""

from __future__ import annotations

import datetime as dt
import re

from twin.config.errors import ScenarioError
from twin.config.scenario import Scenario

_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _window(start_s: float, duration_s: float, skipped_s: float) -> tuple[float, float] | None:
    """A (start, duration) span moved back by ``skipped_s``; None once it is over."""
    end_s = start_s + duration_s - skipped_s
    if end_s <= 0:
        return None
    new_start = max(0.0, start_s - skipped_s)
    return new_start, end_s - new_start


def start_at(scenario: Scenario, hh_mm: str) -> Scenario:
    match = _HH_MM.match(hh_mm.strip())
    if not match:
        raise ScenarioError(None, "--start", f"'{hh_mm}' is not a time of day; write HH:MM, e.g. 17:30")
    begin = scenario.start.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    skipped_s = (begin - scenario.start) / dt.timedelta(seconds=1)
    if skipped_s < 0 or skipped_s >= scenario.duration_s - scenario.step_s:
        raise ScenarioError(scenario.path, "--start", f"{hh_mm} is not inside the scenario's first day "
                            f"(it starts {scenario.start:%H:%M} and lasts {scenario.duration_s / 3600:g} h)")
    faults = []
    for fault in scenario.faults:
        span = _window(fault.start_s, fault.duration_s, skipped_s)
        if span is not None:
            faults.append(fault.model_copy(update={"start_s": span[0], "duration_s": span[1]}))
    sensors = []
    for sensor in scenario.sensors:
        update: dict[str, object] = {}
        for kind in ("stuck", "dropout"):
            start_s = getattr(sensor, f"{kind}_start_s")
            if start_s is not None:
                span = _window(start_s, getattr(sensor, f"{kind}_duration_s"), skipped_s)
                update.update({f"{kind}_start_s": None if span is None else span[0],
                               f"{kind}_duration_s": 0.0 if span is None else span[1]})
        sensors.append(sensor.model_copy(update=update))
    return scenario.model_copy(update={"start": begin, "duration_s": scenario.duration_s - skipped_s,
                                       "faults": tuple(faults), "sensors": tuple(sensors)})

"""Between the twin's truth and everything a controller sees.

The seeds name "sensor delays or data errors" as a cause of scheduling imbalance; this is
where they happen. Every step the twin turns its truth into ``Measurements`` through the
scenario's sensor models, and attaches them to the snapshot; built-in controllers and the
Modbus registers both read those, never the truth, so a sensor effect is the same for all.

Per point, in this order: delay (fixed + uniform jitter), bias, gaussian noise,
quantisation, stuck-at (the value freezes at the window's start) and dropout (the last good
value is held and the point is flagged stale, so a controller can see the quality).
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import fields, replace
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from twin.controllers.base import Measurements
from twin.files import FrozenModel
from twin.units import parse_offset_s

MeasuredPoint = Literal["grid_p_kw", "grid_q_kvar", "poc_v_pu", "pv_p_kw", "pv_available_kw", "bess_p_kw",
                        "bess_soc_pct", "ev_p_kw", "ev_cap_kw"]


class SensorModel(FrozenModel):
    """How one measured point differs from the truth (all effects optional)."""

    point: MeasuredPoint
    delay_s: float = 0.0
    jitter_s: float = 0.0
    bias: float = 0.0
    noise_std: Annotated[float, Field(ge=0)] = 0.0
    quantum: Annotated[float, Field(ge=0)] = 0.0
    stuck_start_s: float | None = None
    stuck_duration_s: float = 0.0
    dropout_start_s: float | None = None
    dropout_duration_s: float = 0.0

    @field_validator("delay_s", "jitter_s", "stuck_start_s", "stuck_duration_s", "dropout_start_s",
                     "dropout_duration_s", mode="before")
    @classmethod
    def _span(cls, value: object) -> float | None:
        return None if value is None else parse_offset_s(value)  # type: ignore[arg-type]


def _inside(t_s: float, start_s: float | None, duration_s: float) -> bool:
    return start_s is not None and start_s <= t_s < start_s + duration_s


class _PointSensor:
    def __init__(self, model: SensorModel, seed: int) -> None:
        self.model = model
        self.rng = np.random.default_rng([seed, zlib.crc32(model.point.encode())])
        self.history: deque[tuple[float, float]] = deque()
        self.last_output: float | None = None
        self.stuck_value: float | None = None

    def read(self, t_s: float, truth: float) -> tuple[float, bool]:
        """(measured value, stale flag) at ``t_s``."""
        m = self.model
        self.history.append((t_s, truth))
        delay = m.delay_s + (self.rng.uniform(0.0, m.jitter_s) if m.jitter_s else 0.0)
        # the newest sample old enough for the delay; older ones are no longer needed
        while len(self.history) > 1 and self.history[1][0] <= t_s - delay:
            self.history.popleft()
        value = self.history[0][1] + m.bias
        if m.noise_std:
            value += self.rng.normal(0.0, m.noise_std)
        if m.quantum:
            value = round(value / m.quantum) * m.quantum
        if _inside(t_s, m.stuck_start_s, m.stuck_duration_s):
            if self.stuck_value is None:
                self.stuck_value = self.last_output if self.last_output is not None else value
            value = self.stuck_value
        else:
            self.stuck_value = None
        if _inside(t_s, m.dropout_start_s, m.dropout_duration_s) and self.last_output is not None:
            return self.last_output, True
        self.last_output = value
        return value, False


MEASURED_FIELDS = tuple(f.name for f in fields(Measurements) if f.name not in ("stale",))


def device_points(device: str, pv_names: list[str], bess_name: str | None) -> tuple[str, ...]:
    """Measured points that come from a device; a device that stops talking leaves them stale."""
    if device == "meter":
        return ("grid_p_kw", "grid_q_kvar", "poc_v_pu")
    if device == bess_name:
        return ("bess_p_kw", "bess_soc_pct")
    if device in pv_names:
        return ("pv_p_kw", "pv_available_kw")
    if device == "site":
        return ("ev_cap_kw",)
    return ("ev_p_kw",)  # a connector or the swap station


class Sensors:
    """All sensor models of a run; ``measure`` is called once per step, in time order."""

    def __init__(self, models: tuple[SensorModel, ...], seed: int, pv_names: list[str] | None = None,
                 bess_name: str | None = None) -> None:
        self._points = {m.point: _PointSensor(m, seed) for m in models}
        self._pv_names, self._bess_name = pv_names or [], bess_name
        self._last: Measurements | None = None

    def measure(self, truth: Measurements, comms_lost: frozenset[str] = frozenset()) -> Measurements:
        measured = truth
        if self._points:
            changes: dict[str, float] = {}
            stale = []
            for point, sensor in self._points.items():
                value, is_stale = sensor.read(truth.t_s, getattr(truth, point))
                changes[point] = value
                if is_stale:
                    stale.append(point)
            measured = replace(truth, stale=tuple(stale), **changes)
        if comms_lost and self._last is not None:  # a silent device: its last values, flagged
            silent = {p for device in comms_lost for p in device_points(device, self._pv_names, self._bess_name)}
            held = {p: getattr(self._last, p) for p in silent}
            measured = replace(measured, stale=tuple(sorted(set(measured.stale) | silent)), **held)
        self._last = measured
        return measured

"""Between the twin's truth and everything a controller sees.

The seeds name "sensor delays or data errors" as a cause of scheduling imbalance; this is
where they happen. Every step the twin turns its truth into ``Measurements`` through the
scenario's sensor models, and attaches them to the snapshot; built-in controllers and the
Modbus registers both read those, never the truth, so a sensor effect is the same for all.

Per point, in this order: delay (fixed + uniform jitter), bias, gaussian noise,
quantisation, stuck-at (the value freezes at the window's start) and dropout (the last good
value is held and the point is flagged stale, so a controller can see the quality).

A point is a site point (``grid_p_kw`` ...; the fields of ``Measurements``) or a point of
one device, ``DEVICE.POINT`` with the device named as in the site file, as faults name it
(``pv_canopy.p_kw``, ``mcs_1.p_kw``). A device point's measured value is in
``Measurements.devices`` and its Modbus register serves it; device points without a sensor
model are the truth, as in the snapshot.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import fields, replace

import numpy as np

from twin.config.sensors import (
    SITE_POINTS,
    SensorModel,
    device_points,
    device_sensor_points,
)
from twin.config.site import Site
from twin.model.controllers.base import Measurements


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


MEASURED_FIELDS = tuple(f.name for f in fields(Measurements) if f.name not in ("stale", "devices"))


class Sensors:
    """All sensor models of a run; ``measure`` is called once per step, in time order."""

    def __init__(self, models: tuple[SensorModel, ...], seed: int, site: Site | None = None) -> None:
        self._points = {m.point: _PointSensor(m, seed) for m in models if m.point in SITE_POINTS}
        targets = device_sensor_points(site) if site else {}
        # device point -> (device, snapshot field, index, sensor)
        self._device_points = {m.point: (m.point.rpartition(".")[0], *targets[m.point], _PointSensor(m, seed))
                               for m in models if m.point not in SITE_POINTS}
        self._pv_names = [a.name for a in site.pv] if site else []
        self._bess_name = site.bess.name if site and site.bess else None
        self._last: Measurements | None = None

    @property
    def device_point_names(self) -> list[str]:
        """Device points with a sensor model, in the order of ``Measurements.devices``."""
        return list(self._device_points)

    def measure(self, truth: Measurements, comms_lost: frozenset[str] = frozenset(),
                device_truth: Mapping[str, np.ndarray | float] | None = None) -> Measurements:
        """``device_truth``: snapshot field -> per-device values, needed when a device point has a sensor."""
        measured = truth
        if self._points or self._device_points:
            changes: dict[str, float] = {}
            stale = []
            for point, sensor in self._points.items():
                value, is_stale = sensor.read(truth.t_s, getattr(truth, point))
                changes[point] = value
                if is_stale:
                    stale.append(point)
            devices = {}
            for point, (_device, field, index, sensor) in self._device_points.items():
                values = device_truth[field]
                devices[point], is_stale = sensor.read(truth.t_s, float(values if index is None else values[index]))
                if is_stale:
                    stale.append(point)
            measured = replace(truth, stale=tuple(stale), devices=devices, **changes)
        if comms_lost and self._last is not None:  # a silent device: its last values, flagged
            silent = {p for device in comms_lost for p in device_points(device, self._pv_names, self._bess_name)}
            held = {p: getattr(self._last, p) for p in silent}
            silent_devices = {p for p, (device, *_) in self._device_points.items() if device in comms_lost}
            if silent_devices:
                held["devices"] = {p: self._last.devices[p] if p in silent_devices else value
                                   for p, value in measured.devices.items()}
            measured = replace(measured, stale=tuple(sorted(set(measured.stale) | silent | silent_devices)), **held)
        self._last = measured
        return measured

"""What a meter or an inverter of the site would measure: AC quantities and energy counters.

Every register view of a device (SunSpec blocks, product profiles) reads these, so the
same step shows the same volts, amps and watts whatever map a controller polls. These are
the live side of the maps: the datastore binds them to the running twin
(``hil.datastore.image``); the map itself is built from the site alone.

* Instantaneous values come from the step's measurements (``snapshot.measured``, i.e.
  through the scenario's sensor models), as the plain map shows them (``point_reader``).
* The twin solves a balanced three-phase power flow: each phase carries a third of the
  power, phase voltage is the bus voltage / sqrt(3), and the frequency is the nominal
  50 Hz of the Chinese grid (the twin has no frequency dynamics).
* Energy counters integrate the twin's true powers over every step (a real meter counts
  inside the box, whatever its communication does), so they are monotone and keep
  counting while a ``comms_loss`` fault silences the unit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.maps.registers import PLAIN_SPECS, Device
from twin.model.controllers.base import Measurements

if TYPE_CHECKING:  # readers of a running twin's steps; exporting a map imports no twin
    from twin.model.core import Snapshot, Twin

NOMINAL_HZ = 50.0  # China's grid; the steady-state twin has no frequency model
PHASES = 3
SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True, slots=True)
class AcReadings:
    """One device's AC side at one step; power signs as the device's own map states them
    (meter: import positive; PV: fed in positive; battery: discharge positive)."""

    p_w: float
    q_var: float
    v_ph_v: float
    hz: float = NOMINAL_HZ

    @property
    def s_va(self) -> float:
        return math.hypot(self.p_w, self.q_var)

    @property
    def pf(self) -> float:
        """Displacement power factor, magnitude (1 when no power flows)."""
        return abs(self.p_w) / self.s_va if self.s_va > 0 else 1.0

    @property
    def v_ll_v(self) -> float:
        return self.v_ph_v * SQRT3

    @property
    def i_a(self) -> float:
        """Phase current (balanced phases)."""
        return self.s_va / (PHASES * self.v_ph_v) if self.v_ph_v > 0 else 0.0


Reader = Callable[[Measurements, "Snapshot"], AcReadings]


def point_reader(device: Device, point: str, twin: Twin) -> Callable[[Measurements, Snapshot], float] | None:
    """What a device's plain point shows after a step of ``twin``: its sensor model's output when
    the scenario has one for it (``twin.sensors``), else the value its spec reads (None: a point
    the datastore fills itself, the heartbeat)."""
    sensed = f"{device.twin_name}.{point}"
    if sensed in twin.sensors.device_point_names:
        return lambda m, s: m.devices[sensed]
    spec = next(spec for spec in PLAIN_SPECS[device.kind] if spec.point == point)
    return functools.partial(spec.read, device) if spec.read else None


def ac_reader(device: Device, twin: Twin) -> Reader:
    """How to read ``device``'s AC side from a step."""
    site = twin.site
    bus_names = twin.grid.bus_names
    if device.kind == "meter":
        v_ph_nominal = site.utility.vn_kv * 1e3 / SQRT3
        return lambda m, s: AcReadings(m.grid_p_kw * 1e3, m.grid_q_kvar * 1e3, m.poc_v_pu * v_ph_nominal)
    if device.kind == "pv":
        bus = site.pv[device.index].bus
        p_kw = point_reader(device, "p_kw", twin)  # a sensor model on the array acts here too
        index, v_ph_nominal = bus_names.index(bus), site.bus_kv[bus] * 1e3 / SQRT3
        return lambda m, s: AcReadings(p_kw(m, s) * 1e3, 0.0, float(s.v_pu[index]) * v_ph_nominal)
    if device.kind == "bess":
        bus = site.bess.bus
        index, v_ph_nominal = bus_names.index(bus), site.bus_kv[bus] * 1e3 / SQRT3
        return lambda m, s: AcReadings(m.bess_p_kw * 1e3, 0.0, float(s.v_pu[index]) * v_ph_nominal)
    raise ValueError(f"{device.name}: a {device.kind} has no AC readings")


class EnergyCounters:
    """Lifetime energy of the meter, each PV inverter and the battery, in Wh, from true powers."""

    def __init__(self, twin: Twin) -> None:
        self.import_wh = 0.0  # from the utility
        self.export_wh = 0.0  # to the utility
        self.pv_wh = [0.0] * len(twin.pv.names)
        self.bess_discharge_wh = 0.0
        self.bess_charge_wh = 0.0
        self.t_s = 0.0

    def add(self, snap: Snapshot) -> None:
        """Integrate one step (its powers held over ``dt_s``, as the recording integrates them)."""
        if snap.t_s <= self.t_s:
            return  # the same step twice (a sink called again) must not count twice
        hours = snap.dt_s / 3600.0
        self.import_wh += max(snap.grid_p_kw, 0.0) * 1e3 * hours
        self.export_wh += max(-snap.grid_p_kw, 0.0) * 1e3 * hours
        for i, p_kw in enumerate(snap.pv_p_kw):
            self.pv_wh[i] += max(float(p_kw), 0.0) * 1e3 * hours
        self.bess_discharge_wh += max(snap.bess_p_kw, 0.0) * 1e3 * hours
        self.bess_charge_wh += max(-snap.bess_p_kw, 0.0) * 1e3 * hours
        self.t_s = snap.t_s

    def delivered_wh(self, device: Device) -> float:
        """Energy a device delivered to the grid: the meter's import, an inverter's yield, a battery's discharge."""
        if device.kind == "meter":
            return self.import_wh
        if device.kind == "pv":
            return self.pv_wh[device.index]
        return self.bess_discharge_wh

    def received_wh(self, device: Device) -> float:
        """The other direction: the meter's export, a battery's charge (0 for PV)."""
        if device.kind == "meter":
            return self.export_wh
        return self.bess_charge_wh if device.kind == "bess" else 0.0


# -- operating state, as a device's status register reports it ------------------------------
FAULTED_BY = {"pv": "pv_trip", "bess": "bess_trip"}
IDLE_W = 500.0  # below this a battery is holding and a PV inverter sleeps


def device_faults(twin: Twin, device: Device) -> set[str]:
    """Fault kinds active now on this device (``pv_trip``, ``bess_derate``, ``comms_loss`` ...)."""
    suffix = f":{device.twin_name}"
    return {label.split(":", 1)[0] for label, count in twin.faults.active.items()
            if count > 0 and label.endswith(suffix)}


def grid_lost(twin: Twin, snap: Snapshot) -> bool:
    """The utility supply is gone: an outage upstream, or the site runs as an island."""
    return snap.islanded or any(count > 0 and label.split(":", 1)[0] in ("utility_outage", "feeder_outage")
                                for label, count in twin.faults.active.items())


def operating_state(twin: Twin, device: Device, ac: AcReadings, snap: Snapshot) -> str:
    """``fault``, ``sleeping``, ``throttled``, ``running`` or ``standby`` for a PV inverter or the battery."""
    faults = device_faults(twin, device)
    if FAULTED_BY.get(device.kind) in faults:
        return "fault"
    if device.kind == "pv":
        if ac.p_w <= 0.0:
            return "sleeping"
        limited = snap.pv_limit_pct[device.index] < 100.0
        curtailed = snap.pv_available_kw[device.index] - snap.pv_p_kw[device.index] > IDLE_W / 1e3
        return "throttled" if limited and curtailed else "running"
    if "bess_derate" in faults:
        return "throttled"
    return "running" if abs(ac.p_w) > IDLE_W else "standby"

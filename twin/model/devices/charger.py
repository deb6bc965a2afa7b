"""Charging slots: DC connectors for vehicles, and the pack chargers of a swap station.

Both are the same physics: a converter with a power rating and soft-start ramp, and a
battery behind it that accepts full power up to its taper knee and less above it. Slots
are numpy arrays so a step over dozens of connectors is a handful of vector operations.
When a battery reaches its target SoC the slot's SimPy event fires, and the process
waiting on it (a vehicle, or the swap station) carries on at that exact step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from twin.model import kernels

MIN_TAPER_FRACTION = 0.05  # a battery near full still trickles; keeps the taper from reaching zero


@dataclass
class Occupant:
    """A battery plugged into a slot: a vehicle's or a swap pack."""

    capacity_kwh: float
    soc_pct: float
    target_soc_pct: float
    max_accept_kw: float
    taper_start_soc_pct: float


def taper_kw(soc_pct: np.ndarray, max_accept_kw: np.ndarray, knee_pct: np.ndarray) -> np.ndarray:
    """Power a battery accepts: full up to the knee, then falling linearly to ~0 at 100 %."""
    above = np.clip((100.0 - soc_pct) / np.maximum(100.0 - knee_pct, 1e-9), MIN_TAPER_FRACTION, 1.0)
    return max_accept_kw * np.where(soc_pct < knee_pct, 1.0, above)


class ChargingSlots:
    """``n`` slots; grid-side power ``p_kw`` per slot, capped by ``p_limit_kw`` (controller)."""

    def __init__(self, env: simpy.Environment, p_max_kw: np.ndarray, efficiency_pct: np.ndarray,
                 ramp_kw_per_s: np.ndarray) -> None:
        self.env = env
        n = len(p_max_kw)
        self.p_max_kw = np.asarray(p_max_kw, dtype=float)
        self.efficiency = np.asarray(efficiency_pct, dtype=float) / 100.0
        self.ramp_kw_per_s = np.asarray(ramp_kw_per_s, dtype=float)
        self.p_limit_kw = self.p_max_kw.copy()
        self.p_kw = np.zeros(n)
        self.faulted = np.zeros(n, dtype=bool)
        self.occupied = np.zeros(n, dtype=bool)
        self.soc_pct = np.zeros(n)
        self.capacity_kwh = np.ones(n)
        self.target_soc_pct = np.zeros(n)
        self.max_accept_kw = np.zeros(n)
        self.knee_pct = np.full(n, 80.0)
        self.energy_kwh = np.zeros(n)  # grid-side energy of the current session
        self.done: list[simpy.Event | None] = [None] * n
        self.compiled = kernels.COMPILED
        self.p_total_kw = 0.0  # the sum of p_kw as the last advance left it (an unplug zeroes a slot after)
        self._wanted = np.zeros(n)  # the kernels' output buffers
        self._granted = np.zeros(n)
        self._reached = np.zeros(n, dtype=bool)
        if self.compiled:  # load (or compile) the kernels now, not in the middle of the first step
            self.grant(self.wanted_kw(), 1.0)
            kernels.slots_advance(1.0, np.zeros(n), self.p_kw.copy(), self.ramp_kw_per_s, self.target_soc_pct,
                                  self.soc_pct.copy(), self.capacity_kwh, self.efficiency, self.energy_kwh.copy(),
                                  self.occupied, self._reached.copy())

    def plug(self, slot: int, occupant: Occupant) -> simpy.Event:
        """Connect a battery; the returned event fires when it reaches its target SoC."""
        self.occupied[slot] = True
        self.soc_pct[slot] = occupant.soc_pct
        self.capacity_kwh[slot] = occupant.capacity_kwh
        self.target_soc_pct[slot] = occupant.target_soc_pct
        self.max_accept_kw[slot] = occupant.max_accept_kw
        self.knee_pct[slot] = occupant.taper_start_soc_pct
        self.energy_kwh[slot] = 0.0
        event = self.env.event()
        self.done[slot] = event
        if occupant.soc_pct >= occupant.target_soc_pct:
            event.succeed()
        return event

    def unplug(self, slot: int) -> tuple[float, float]:
        """Disconnect; returns (grid-side energy kWh of the session, final SoC %)."""
        self.occupied[slot] = False
        self.p_kw[slot] = 0.0
        self.done[slot] = None
        return float(self.energy_kwh[slot]), float(self.soc_pct[slot])

    def accept_kw(self) -> np.ndarray:
        """Grid-side power each battery would take now at the slot's rating (its own taper), whatever
        the controller's limit: what a charger shares a station maximum by."""
        accept = np.minimum(self.p_max_kw, taper_kw(self.soc_pct, self.max_accept_kw, self.knee_pct) / self.efficiency)
        accept[~self.occupied | self.faulted | (self.soc_pct >= self.target_soc_pct)] = 0.0
        return accept

    def want(self) -> tuple[np.ndarray, float]:
        """Grid-side power each slot would draw now, before any site-wide cap or ramp, and its sum.

        The array is the slots' own, rewritten by the next call (``wanted_kw`` gives a copy)."""
        if not self.compiled:
            wanted = self.wanted_kw_reference()
            return wanted, float(wanted.sum())
        total_kw = kernels.slots_wanted_kw(self.soc_pct, self.max_accept_kw, self.knee_pct, self.efficiency,
                                           self.p_max_kw, self.p_limit_kw, self.occupied, self.faulted,
                                           self.target_soc_pct, MIN_TAPER_FRACTION, self._wanted)
        return self._wanted, total_kw

    def wanted_kw(self) -> np.ndarray:
        """``want``'s array, as a new one."""
        return self.want()[0].copy()

    def wanted_kw_reference(self) -> np.ndarray:
        accept = taper_kw(self.soc_pct, self.max_accept_kw, self.knee_pct) / self.efficiency
        wanted = np.minimum(np.minimum(self.p_max_kw, self.p_limit_kw), accept)
        wanted[~self.occupied | self.faulted | (self.soc_pct >= self.target_soc_pct)] = 0.0
        return wanted

    def grant(self, wanted_kw: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
        """``wanted_kw * scale`` (the slots' own array, rewritten by the next call) and the seconds
        until the first slot reaches its target at it (``seconds_to_target``)."""
        if not self.compiled:
            return self.grant_reference(wanted_kw, scale)
        to_target_s = kernels.slots_grant(wanted_kw, scale, self._granted, self.occupied, self.target_soc_pct,
                                          self.soc_pct, self.capacity_kwh, self.efficiency)
        return self._granted, to_target_s

    def grant_reference(self, wanted_kw: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
        granted = wanted_kw * scale
        return granted, self.seconds_to_target(granted)

    def seconds_to_target(self, granted_kw: np.ndarray) -> float:
        """How long until the first slot reaches its target at ``granted_kw`` (inf if none will)."""
        charging = self.occupied & (granted_kw > 0)
        if not charging.any():
            return np.inf
        room_kwh = (self.target_soc_pct[charging] - self.soc_pct[charging]) / 100.0 * self.capacity_kwh[charging]
        return float(max(0.0, (room_kwh / (granted_kw[charging] * self.efficiency[charging])).min()) * 3600.0)

    def advance(self, dt_s: float, granted_kw: np.ndarray) -> np.ndarray:
        """Draw ``granted_kw`` (ramp-limited upward), charge the batteries, fire done events.

        Returns ``p_kw``, the slots' own array (changed in place by the next advance or unplug);
        its sum is ``p_total_kw`` until then.
        """
        if not self.compiled:
            return self.advance_reference(dt_s, granted_kw)
        n_reached, self.p_total_kw = kernels.slots_advance(
            dt_s, granted_kw, self.p_kw, self.ramp_kw_per_s, self.target_soc_pct, self.soc_pct, self.capacity_kwh,
            self.efficiency, self.energy_kwh, self.occupied, self._reached)
        if n_reached:
            self._fire(np.flatnonzero(self._reached))
        return self.p_kw

    def advance_reference(self, dt_s: float, granted_kw: np.ndarray) -> np.ndarray:
        p = np.minimum(granted_kw, self.p_kw + self.ramp_kw_per_s * dt_s)
        hours = dt_s / 3600.0
        # do not overshoot the target within one long step
        room_kwh = np.maximum(self.target_soc_pct - self.soc_pct, 0.0) / 100.0 * self.capacity_kwh
        p = np.minimum(p, room_kwh / self.efficiency / hours)
        self.p_kw[:] = p
        self.p_total_kw = float(self.p_kw.sum())
        self.energy_kwh += p * hours
        self.soc_pct += p * hours * self.efficiency / self.capacity_kwh * 100.0
        self._fire(np.flatnonzero(self.occupied & (self.soc_pct >= self.target_soc_pct - 1e-9)))
        return self.p_kw

    def _fire(self, full: np.ndarray) -> None:
        for slot in full:
            event = self.done[slot]
            if event is not None and not event.triggered:
                event.succeed()

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
    """``n`` slots; grid-side power ``p_kw`` per slot, capped by ``p_limit_kw`` (controller).

    Each per-slot figure is a row of ``state`` (floats) or ``flags`` (booleans), named by
    ``kernels``' row constants, and an attribute that is a view of that row: the kernels take
    the two matrices, everything else reads and writes the attributes."""

    def __init__(self, env: simpy.Environment, p_max_kw: np.ndarray, efficiency_pct: np.ndarray,
                 ramp_kw_per_s: np.ndarray) -> None:
        self.env = env
        n = len(p_max_kw)
        self.state = np.zeros((kernels.STATE_ROWS, n))
        self.flags = np.zeros((kernels.FLAG_ROWS, n), dtype=bool)
        state, flags = self.state, self.flags
        self.p_max_kw, self.efficiency, self.ramp_kw_per_s = (
            state[kernels.P_MAX_KW], state[kernels.EFFICIENCY], state[kernels.RAMP_KW_PER_S])
        self.p_limit_kw, self.p_kw, self.soc_pct = state[kernels.P_LIMIT_KW], state[kernels.P_KW], state[kernels.SOC_PCT]
        self.capacity_kwh, self.target_soc_pct = state[kernels.CAPACITY_KWH], state[kernels.TARGET_SOC_PCT]
        self.max_accept_kw, self.knee_pct = state[kernels.MAX_ACCEPT_KW], state[kernels.KNEE_PCT]
        self.energy_kwh = state[kernels.ENERGY_KWH]  # grid-side energy of the current session
        self._wanted, self._granted = state[kernels.WANTED_KW], state[kernels.GRANTED_KW]  # the kernels' outputs
        self.occupied, self.faulted, self._reached = flags[kernels.OCCUPIED], flags[kernels.FAULTED], flags[kernels.REACHED]
        self.p_max_kw[:] = p_max_kw
        self.efficiency[:] = np.asarray(efficiency_pct, dtype=float) / 100.0
        self.ramp_kw_per_s[:] = ramp_kw_per_s
        self.p_limit_kw[:] = self.p_max_kw
        self.capacity_kwh[:] = 1.0
        self.knee_pct[:] = 80.0
        self.all_live = np.ones(n, dtype=bool)  # ``share``'s mask when no outage cuts a slot off
        self.done: list[simpy.Event | None] = [None] * n
        self.compiled = kernels.COMPILED
        self.p_total_kw = 0.0  # the sum of p_kw as the last advance left it (an unplug zeroes a slot after)
        if self.compiled:  # load (or compile) the kernels now, not in the middle of the first step
            kernels.slots_share(state.copy(), flags.copy(), self.all_live, state.copy(), flags.copy(),
                                kernels.PACKS_ON, 1.0, MIN_TAPER_FRACTION)
            kernels.slots_advance(1.0, state.copy(), flags.copy())

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
        if self.compiled:
            total_kw = kernels.slots_want(self.state, self.flags, MIN_TAPER_FRACTION)
        else:
            self._wanted[:] = self.wanted_kw_reference()
            total_kw = float(self._wanted.sum())
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
        if wanted_kw is not self._wanted:
            self._wanted[:] = wanted_kw
        if self.compiled:
            return self._granted, kernels.slots_grant(self.state, self.flags, scale)
        granted, to_target_s = self.grant_reference(self._wanted, scale)
        self._granted[:] = granted
        return self._granted, to_target_s

    def regrant(self, scale: float) -> None:
        """Grant the powers wanted last at another ``scale`` (an island sheds EV charging after the cap)."""
        self.grant(self._wanted, scale)

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

    def advance(self, dt_s: float, granted_kw: np.ndarray | None = None) -> np.ndarray:
        """Draw ``granted_kw`` (by default what ``grant`` or ``share`` granted last; ramp-limited
        upward), charge the batteries, fire done events.

        Returns ``p_kw``, the slots' own array (changed in place by the next advance or unplug);
        its sum is ``p_total_kw`` until then.
        """
        if granted_kw is not None and granted_kw is not self._granted:
            self._granted[:] = granted_kw
        if not self.compiled:
            return self.advance_reference(dt_s, self._granted)
        n_reached, self.p_total_kw = kernels.slots_advance(dt_s, self.state, self.flags)
        if n_reached:
            self._fire(self._reached.nonzero()[0])
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
        self._reached[:] = self.occupied & (self.soc_pct >= self.target_soc_pct - 1e-9)
        self._fire(self._reached.nonzero()[0])
        return self.p_kw

    def _fire(self, full: np.ndarray) -> None:
        for slot in full:
            event = self.done[slot]
            if event is not None and not event.triggered:
                event.succeed()


def share(cars: ChargingSlots, cars_live: np.ndarray | None, packs: ChargingSlots | None, packs_tripped: bool,
          cap_kw: float) -> tuple[float, float, float]:
    """Grant both sets of a site's slots (the connectors, and a swap station's pack chargers when
    it is live) what they want now, scaled down together to a site cap of ``cap_kw``.

    ``cars_live`` masks the connectors an outage leaves powered (None: all are); tripped packs
    want nothing. The granted powers are left in each set's ``GRANTED_KW`` row for ``advance``.
    Returns (total wanted kW, the scale granted, seconds until the first battery reaches its target).
    """
    if not cars.compiled:
        return share_reference(cars, cars_live, packs, packs_tripped, cap_kw)
    mode = kernels.PACKS_OFF if packs is None else kernels.PACKS_TRIPPED if packs_tripped else kernels.PACKS_ON
    packs = cars if packs is None else packs  # not read when off
    return kernels.slots_share(cars.state, cars.flags, cars.all_live if cars_live is None else cars_live,
                               packs.state, packs.flags, mode, cap_kw, MIN_TAPER_FRACTION)


def share_reference(cars: ChargingSlots, cars_live: np.ndarray | None, packs: ChargingSlots | None,
                    packs_tripped: bool, cap_kw: float) -> tuple[float, float, float]:
    wanted, total_kw = cars.want()
    if cars_live is not None:
        wanted[~cars_live] = 0.0
        total_kw = float(wanted.sum())
    packs_kw = 0.0
    if packs is not None:
        packs_wanted, packs_kw = packs.want()
        if packs_tripped:
            packs_wanted[:] = 0.0
            packs_kw = 0.0
    total_kw = total_kw + packs_kw
    scale = min(1.0, cap_kw / total_kw) if total_kw > 0 else 1.0
    to_target_s = cars.grant(wanted, scale)[1]
    if packs is not None:
        to_target_s = min(to_target_s, packs.grant(packs._wanted, scale)[1])
    return total_kw, scale, to_target_s

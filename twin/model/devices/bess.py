"""Battery energy storage behind its PCS: SoC, efficiency, power and energy limits, ramp."""

from __future__ import annotations

import math
from enum import IntEnum

from twin.config.site import Bess


class BessState(IntEnum):
    IDLE = 0
    CHARGING = 1
    DISCHARGING = 2
    FAULT = 3


class Battery:
    """Discharge positive. Losses are split evenly between charging and discharging."""

    def __init__(self, spec: Bess) -> None:
        self.spec = spec
        self.soc_pct = spec.soc_init_pct
        self.p_kw = 0.0
        self.p_set_kw = 0.0  # the setpoint in force at the end of the step being integrated
        self.p_derate_kw = spec.p_max_kw  # faults may lower this
        self._eta = math.sqrt(spec.round_trip_eff_pct / 100.0)
        self._changes: list[tuple[float, float]] = []  # (sim time, new setpoint) since the last advance
        self._p_set_before = 0.0  # the setpoint before the first of those changes

    def set_p(self, p_set_kw: float, at_s: float) -> None:
        """A new setpoint from simulated time ``at_s``: a command that lands inside a step acts
        from its time inside the step, not for the whole step."""
        if not self._changes:
            self._p_set_before = self.p_set_kw
        self._changes.append((at_s, p_set_kw))
        self.p_set_kw = p_set_kw

    def limits_kw(self, dt_s: float) -> tuple[float, float]:
        """(max charge, max discharge) kW this step, from power rating and the SoC window."""
        spec = self.spec
        e_to_min = (self.soc_pct - spec.soc_min_pct) / 100.0 * spec.e_kwh
        e_to_max = (spec.soc_max_pct - self.soc_pct) / 100.0 * spec.e_kwh
        hours = dt_s / 3600.0
        p_dis = min(self.p_derate_kw, max(0.0, e_to_min * self._eta / hours))
        p_ch = min(self.p_derate_kw, max(0.0, e_to_max / self._eta / hours))
        return p_ch, p_dis

    def advance(self, dt_s: float, t0_s: float | None = None) -> float:
        """Move toward the setpoint within ramp and limits; integrate SoC. Returns p_kw over the step
        (the mean, when the setpoint changed inside the step that starts at ``t0_s``)."""
        changes, self._changes = self._changes, []
        inside = [(t, p) for t, p in changes if t0_s is not None and t0_s < t < t0_s + dt_s]
        if not inside:
            return self._integrate(self.p_set_kw, dt_s)
        p_set = self._p_set_before
        for t, p in changes:
            if t <= t0_s:  # in force from the start of the step
                p_set = p
        energy_kw_s, start_s = 0.0, t0_s
        for t, p in [*inside, (t0_s + dt_s, None)]:
            if t > start_s:
                energy_kw_s += self._integrate(p_set, t - start_s) * (t - start_s)
            start_s, p_set = t, p
        return energy_kw_s / dt_s

    def _integrate(self, p_set_kw: float, dt_s: float) -> float:
        p_ch, p_dis = self.limits_kw(dt_s)
        ramp = self.spec.ramp_kw_per_s * dt_s
        target = min(max(p_set_kw, -p_ch), p_dis)
        p = min(max(target, self.p_kw - ramp), self.p_kw + ramp)
        p = min(max(p, -p_ch), p_dis)
        energy_kwh = p * dt_s / 3600.0
        if p >= 0:
            self.soc_pct -= energy_kwh / self._eta / self.spec.e_kwh * 100.0
        else:
            self.soc_pct -= energy_kwh * self._eta / self.spec.e_kwh * 100.0
        self.p_kw = p
        return p

    def follow(self, p_kw: float, dt_s: float) -> float:
        """Grid-forming (islanded): deliver what the island needs; SoC follows."""
        energy_kwh = p_kw * dt_s / 3600.0
        eta = self._eta if p_kw >= 0 else 1.0 / self._eta
        self.soc_pct -= energy_kwh / eta / self.spec.e_kwh * 100.0
        self.p_kw = p_kw
        return p_kw

    @property
    def state(self) -> BessState:
        if self.p_derate_kw <= 0:
            return BessState.FAULT
        if self.p_kw > 1e-6:
            return BessState.DISCHARGING
        if self.p_kw < -1e-6:
            return BessState.CHARGING
        return BessState.IDLE

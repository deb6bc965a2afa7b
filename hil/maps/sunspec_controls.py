"""The timing of a SunSpec control (model 123 ``WMaxLimPct_*Tms``, model 124 ``InOutWRte_*Tms``).

* ``WinTms``: the change takes effect within this window. A real inverter picks a random
  moment to avoid every unit stepping at once; the twin takes the end of the window, so a
  run is reproducible.
* ``RmpTms``: the setpoint moves linearly from the value in force to the new one over this
  time (on top of the device's own ramp limit in the twin).
* ``RvrtTms``: unless the controller writes the control again within this time (counted
  from its write), the device returns to its default — 100 % for a PV limit, idle for a
  battery — as SunSpec devices do when a controller dies. 0 disables each timer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SetpointTimers:
    """One control's setpoint in force, moving to a written target after window and ramp."""

    default: float  # where the revert timer returns the setpoint
    in_force: float | None = None  # last value handed to the twin (None: a write is yet to be commanded)
    target: float = 0.0
    ramp_from: float = 0.0
    start_s: float = 0.0  # the window ends, the ramp starts
    ramp_s: float = 0.0
    revert_at_s: float | None = None

    def __post_init__(self) -> None:
        self.in_force = self.target = self.ramp_from = self.default

    def write(self, now_s: float, target: float, win_s: float, ramp_s: float, revert_s: float) -> None:
        """A controller's write: the new target and its timing (seconds, 0 = none)."""
        self.ramp_from = self.current(now_s)
        self.in_force = None  # the write itself is commanded at the next ``due``, even if nothing changes
        self.target, self.start_s, self.ramp_s = target, now_s + win_s, ramp_s
        self.revert_at_s = now_s + revert_s if revert_s > 0 else None

    def follow(self, value: float) -> None:
        """A setpoint that came another way (the plain map): in force at once, no timers."""
        self.in_force = self.target = self.ramp_from = value
        self.start_s, self.ramp_s, self.revert_at_s = 0.0, 0.0, None

    def current(self, now_s: float) -> float:
        """The setpoint the timers ask for at ``now_s``."""
        if now_s < self.start_s:
            return self.ramp_from
        if self.ramp_s > 0 and now_s < self.start_s + self.ramp_s:
            share = (now_s - self.start_s) / self.ramp_s
            return self.ramp_from + (self.target - self.ramp_from) * share
        return self.target

    def due(self, now_s: float) -> tuple[float | None, bool]:
        """(setpoint to command now, or None if it is already in force; whether the revert timer fired)."""
        if self.revert_at_s is not None and now_s >= self.revert_at_s:
            self.follow(self.default)
            return self.default, True
        value = self.current(now_s)
        if value == self.in_force:
            return None, False
        self.in_force = value
        return value, False

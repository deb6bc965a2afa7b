"""The site's ``[limits]`` watched during a run: a bus leaving the voltage band, a branch
loaded past its limit, each logged as a ``limit_violation`` event when it starts and a
``limit_cleared`` event when it ends (so a long excursion is one pair, not a row per step).
"""

from __future__ import annotations

import numpy as np

from twin.config.site import Limits
from twin.model.events import EventLog


def _within(values: np.ndarray, low: float, high: float) -> bool:
    """Every value in ``[low, high]`` (True when empty). False is only "maybe not": a NaN, which no
    mask counts as outside, can make it False; the caller then looks element by element."""
    if not len(values):
        return True
    floats = values.tolist()
    return min(floats) >= low and max(floats) <= high


class LimitMonitor:
    def __init__(self, limits: Limits, bus_names: list[str], line_names: list[str], trafo_names: list[str],
                 log: EventLog) -> None:
        self.limits = limits
        self.log = log
        self.bus_names, self.branch_names = bus_names, line_names + trafo_names
        self._bus_since = np.zeros(len(bus_names))  # when each element left its band
        self._branch_since = np.zeros(len(self.branch_names))
        self._bus_out = np.zeros(len(bus_names), dtype=bool)  # outside now
        self._branch_out = np.zeros(len(self.branch_names), dtype=bool)
        self._any_out = False  # some element is outside now: the next check must look at each

    def check(self, t_s: float, v_pu: np.ndarray, line_loading_pct: np.ndarray, trafo_loading_pct: np.ndarray) -> None:
        """Log the changes of this step (values are the step's power flow, stamped at its end)."""
        lim = self.limits
        # the usual step has every bus in its band, every branch below its limit and nothing to
        # clear: two plain min/max over a few dozen floats say so for a tenth of the numpy masks
        if not self._any_out and _within(v_pu, lim.v_min_pu, lim.v_max_pu) and \
                _within(line_loading_pct, -np.inf, lim.max_loading_pct) and \
                _within(trafo_loading_pct, -np.inf, lim.max_loading_pct):
            return
        live = v_pu > 0  # a de-energized bus is not a voltage violation
        outside = live & ((v_pu < lim.v_min_pu) | (v_pu > lim.v_max_pu))
        if outside.any() or self._bus_out.any():
            self._update(t_s, outside, v_pu, self.bus_names, self._bus_since, self._bus_out, self._voltage_text)
        loading = np.concatenate((line_loading_pct, trafo_loading_pct))
        over = loading > lim.max_loading_pct
        if over.any() or self._branch_out.any():
            self._update(t_s, over, loading, self.branch_names, self._branch_since, self._branch_out,
                         self._loading_text)
        self._any_out = bool(self._bus_out.any() or self._branch_out.any())

    def _voltage_text(self, v_pu: float) -> str:
        lim = self.limits
        side = f"< v_min_pu {lim.v_min_pu:g}" if v_pu < lim.v_min_pu else f"> v_max_pu {lim.v_max_pu:g}"
        return f"voltage {v_pu:.4f} pu {side}"

    def _loading_text(self, loading_pct: float) -> str:
        return f"loading {loading_pct:.1f} % > max_loading_pct {self.limits.max_loading_pct:g}"

    def _update(self, t_s, outside, values, names, since, out, text) -> None:
        for i in np.flatnonzero(outside & ~out):
            self.log("limit_violation", names[i], -1, float(values[i]), text(float(values[i])))
            since[i] = t_s
        for i in np.flatnonzero(~outside & out):
            self.log("limit_cleared", names[i], -1, t_s - since[i], f"outside for {t_s - since[i]:g} s")
        out[:] = outside

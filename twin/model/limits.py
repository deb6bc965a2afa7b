"""The site's ``[limits]`` watched during a run: a bus leaving the voltage band, a branch
loaded past its limit, each logged as a ``limit_violation`` event when it starts and a
``limit_cleared`` event when it ends (so a long excursion is one pair, not a row per step).
"""

from __future__ import annotations

import numpy as np

from twin.config.site import Limits
from twin.model.events import EventLog


class LimitMonitor:
    def __init__(self, limits: Limits, bus_names: list[str], line_names: list[str], trafo_names: list[str],
                 log: EventLog) -> None:
        self.limits = limits
        self.log = log
        self.bus_names, self.branch_names = bus_names, line_names + trafo_names
        self._bus_since = np.full(len(bus_names), np.nan)  # when each element left its band (nan: inside)
        self._branch_since = np.full(len(self.branch_names), np.nan)

    def check(self, t_s: float, v_pu: np.ndarray, line_loading_pct: np.ndarray, trafo_loading_pct: np.ndarray) -> None:
        """Log the changes of this step (values are the step's power flow, stamped at its end)."""
        lim = self.limits
        live = v_pu > 0  # a de-energized bus is not a voltage violation
        low, high = live & (v_pu < lim.v_min_pu), live & (v_pu > lim.v_max_pu)
        texts = np.where(low, f"< v_min_pu {lim.v_min_pu:g}", f"> v_max_pu {lim.v_max_pu:g}")
        self._update(t_s, low | high, v_pu, texts, self.bus_names, self._bus_since, "voltage {:.4f} pu {}")
        loading = np.concatenate((line_loading_pct, trafo_loading_pct))
        over = loading > lim.max_loading_pct
        self._update(t_s, over, loading, np.full(len(loading), f"> max_loading_pct {lim.max_loading_pct:g}"),
                     self.branch_names, self._branch_since, "loading {:.1f} % {}")

    def _update(self, t_s, outside, values, texts, names, since, template) -> None:
        started = outside & np.isnan(since)
        ended = ~outside & ~np.isnan(since)
        for i in np.flatnonzero(started):
            self.log("limit_violation", names[i], -1, float(values[i]), template.format(values[i], texts[i]))
        for i in np.flatnonzero(ended):
            self.log("limit_cleared", names[i], -1, t_s - since[i], f"outside for {t_s - since[i]:g} s")
        since[started] = t_s
        since[ended] = np.nan

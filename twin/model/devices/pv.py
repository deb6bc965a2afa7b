"""PV arrays behind their inverters: available power, and curtailment.

The available power of each array is computed once a run, on its profile grid, by
``twin.model.solar`` (kept between processes by ``twin.model.site_profiles``); each step
reads its exact interval mean.
"""

from __future__ import annotations

import numpy as np

from twin.config.site import PvArray
from twin.model.profiles import IntervalMean

INVERTER_EFFICIENCY = 0.975  # European-efficiency class of string/central inverters


class PvPlant:
    """All PV arrays of the site; the controller curtails each through ``p_limit_pct``."""

    def __init__(self, arrays: tuple[PvArray, ...], available_kw: np.ndarray, grid_dt_s: float) -> None:
        """``available_kw``: each array's AC power at each grid time (``twin.model.solar.available_kw``)."""
        self.names = [a.name for a in arrays]
        self.inverter_kw = np.array([a.inverter_kw for a in arrays])
        self.p_limit_pct = np.full(len(arrays), 100.0)
        self.tripped = np.zeros(len(arrays), dtype=bool)
        self._available = IntervalMean(available_kw, grid_dt_s)

    def powers(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(available_kw, produced_kw) per array over the step."""
        available = self._available.mean(t0_s, t1_s)
        produced = np.minimum(available, self.p_limit_pct / 100.0 * self.inverter_kw)
        produced[self.tripped] = 0.0
        return available, produced

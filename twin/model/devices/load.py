"""Service-building load (restaurants, shops, HVAC, lighting) from a daily hourly profile."""

from __future__ import annotations

import math

import numpy as np

from twin.config.site import Load
from twin.model.profiles import IntervalMean


class BuildingLoads:
    """All building loads of the site: ``p_kw``/``q_kvar`` arrays, one entry per load."""

    def __init__(self, loads: tuple[Load, ...], p_kw: np.ndarray, grid_dt_s: float) -> None:
        """``p_kw``: each load's power at each grid time (``twin.model.site_profiles``)."""
        self.names = [load.name for load in loads]
        self._profile = IntervalMean(p_kw, grid_dt_s)
        self._q_per_p = np.array([math.tan(math.acos(load.power_factor)) for load in loads])

    def powers(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        p_kw = self._profile.mean(t0_s, t1_s)
        return p_kw, p_kw * self._q_per_p

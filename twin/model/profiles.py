"""Time profiles sampled on a uniform grid, read back as exact interval means.

A step of any length (1 s to 1 h) gets the mean of a profile over its own interval, so
energies are right whether the run uses 1 s or 1 h steps. The mean comes from the
cumulative integral, two interpolations a step whatever the step length.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


class IntervalMean:
    """``values[i]`` is the profile at ``i * grid_dt_s``; ``mean(t0, t1)`` averages it linearly."""

    def __init__(self, values: np.ndarray, grid_dt_s: float) -> None:
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        self.grid_dt_s = grid_dt_s
        self.width = values.shape[1]
        area = (values[1:] + values[:-1]) * 0.5 * grid_dt_s
        self._cum = np.vstack([np.zeros((1, self.width)), np.cumsum(area, axis=0)])
        self._values = values
        self._last = len(values) - 1

    def _integral(self, t_s: float) -> np.ndarray:
        x = t_s / self.grid_dt_s
        i = min(int(x), self._last - 1)
        f = x - i
        # area up to the grid point, plus the trapezoid into the next interval
        v0, v1 = self._values[i], self._values[i + 1]
        return self._cum[i] + (v0 + (v0 + (v1 - v0) * f)) * 0.5 * f * self.grid_dt_s

    def mean(self, t0_s: float, t1_s: float) -> np.ndarray:
        return (self._integral(t1_s) - self._integral(t0_s)) / (t1_s - t0_s)


def local_times(start: dt.datetime, timezone: str, duration_s: float, grid_dt_s: float) -> pd.DatetimeIndex:
    """Grid times from ``start`` to ``start + duration`` (inclusive, one extra point), in the site's zone."""
    n = int(np.ceil(duration_s / grid_dt_s)) + 2
    index = pd.date_range(pd.Timestamp(start), periods=n, freq=pd.Timedelta(seconds=grid_dt_s))
    return index.tz_convert(timezone)


def hourly_profile_at(profile: tuple[float, ...] | np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    """A 24-value profile (value at each hour's middle) interpolated periodically at ``times``."""
    hours = times.hour + times.minute / 60.0 + times.second / 3600.0
    centres = np.arange(24) + 0.5
    values = np.asarray(profile, dtype=float)
    return np.interp(hours, np.r_[centres[-1] - 24, centres, centres[0] + 24], np.r_[values[-1], values, values[0]])

"""The site's local clock on a run's profile grid (pandas: time zones and their daylight saving)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


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

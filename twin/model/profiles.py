"""Time profiles sampled on a uniform grid, read back as exact interval means.

A step of any length (1 s to 1 h) gets the mean of a profile over its own interval, so
energies are right whether the run uses 1 s or 1 h steps. The mean comes from the
cumulative integral, two interpolations a step whatever the step length. A run steps at
one length, so the means of every step are computed at once, on first use, with the same
arithmetic as the scalar path (bit for bit); a step off that grid takes the scalar path.
"""

from __future__ import annotations

import numpy as np

MAX_TABLE_VALUES = 4_000_000  # 32 MB of step means at most (a day at 1 s with 40 profiles is 3.5 M)


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
        self._step_s = 0.0  # the step length the table of step means is for (0: none yet)
        self._step_means = np.zeros((0, self.width))

    def _integral(self, t_s: float) -> np.ndarray:
        x = t_s / self.grid_dt_s
        i = min(int(x), self._last - 1)
        f = x - i
        # area up to the grid point, plus the trapezoid into the next interval
        v0, v1 = self._values[i], self._values[i + 1]
        return self._cum[i] + (v0 + (v0 + (v1 - v0) * f)) * 0.5 * f * self.grid_dt_s

    def _integrals(self, t_s: np.ndarray) -> np.ndarray:
        """``_integral`` at many times, element by element the same operations."""
        x = t_s / self.grid_dt_s
        i = np.minimum(x.astype(int), self._last - 1)
        f = (x - i)[:, None]
        v0, v1 = self._values[i], self._values[i + 1]
        return self._cum[i] + (v0 + (v0 + (v1 - v0) * f)) * 0.5 * f * self.grid_dt_s

    def mean(self, t0_s: float, t1_s: float) -> np.ndarray:
        """Mean over ``[t0_s, t1_s]`` (read-only when it comes from the table of step means)."""
        step_s = t1_s - t0_s
        if step_s != self._step_s:
            self._tabulate(step_s)
        k = int(t0_s / step_s)
        if k < len(self._step_means) and k * step_s == t0_s and t0_s + step_s == t1_s:
            return self._step_means[k]
        return (self._integral(t1_s) - self._integral(t0_s)) / step_s

    def _tabulate(self, step_s: float) -> None:
        """The means of all steps ``[k * step_s, k * step_s + step_s]`` the profile covers."""
        self._step_s = step_s
        n_steps = int((self._last * self.grid_dt_s) / step_s)
        if step_s <= 0 or n_steps * self.width > MAX_TABLE_VALUES:
            self._step_means = np.zeros((0, self.width))
            return
        t0_s = np.arange(n_steps) * step_s
        t1_s = t0_s + step_s
        self._step_means = (self._integrals(t1_s) - self._integrals(t0_s)) / (t1_s - t0_s)[:, None]
        self._step_means.flags.writeable = False

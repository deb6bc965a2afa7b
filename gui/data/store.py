"""Preallocated series the panels draw from.

The GUI timer moves row batches from the worker into a ``SeriesStore``, whose arrays are
allocated once for the whole run, so every redraw hands pyqtgraph views, never copies.
"""

from __future__ import annotations

import numpy as np

from twin.model.events import Event


class SeriesStore:
    """Time and channel arrays for a whole run, filled from the front."""

    def __init__(self, channel_names: list[str], capacity: int) -> None:
        self.names = list(channel_names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.t_s = np.zeros(max(1, capacity))
        self.data = np.zeros((len(self.names), max(1, capacity)))
        self.n = 0
        self.generation = 0  # counts ``clear``: what was computed from older rows is void
        self.events: list[Event] = []

    def clear(self) -> None:
        """Start over (a new run on the same server): rows are written again from the front."""
        self.n = 0
        self.events = []
        self.generation += 1

    def extend(self, t_s: np.ndarray, block: np.ndarray) -> None:
        """Append rows (``block`` is channels x rows); grows only if the run outlasts its estimate."""
        rows = len(t_s)
        if self.n + rows > len(self.t_s):
            self._grow(self.n + rows)
        self.t_s[self.n:self.n + rows] = t_s
        self.data[:, self.n:self.n + rows] = block
        self.n += rows

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * len(self.t_s))
        t_s, data = np.zeros(size), np.zeros((len(self.names), size))
        t_s[:self.n], data[:, :self.n] = self.t_s[:self.n], self.data[:, :self.n]
        self.t_s, self.data = t_s, data

    def series(self, name: str) -> np.ndarray:
        """The filled part of one channel (a view)."""
        return self.data[self.index[name], :self.n]

    def time(self) -> np.ndarray:
        return self.t_s[:self.n]

    def value_at(self, name: str, t_s: float) -> float:
        """The channel's value in the step that ends at or after ``t_s``."""
        if self.n == 0:
            return float("nan")
        k = min(int(np.searchsorted(self.t_s[:self.n], t_s)), self.n - 1)
        return float(self.data[self.index[name], k])

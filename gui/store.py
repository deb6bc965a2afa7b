"""Preallocated series the panels draw from, and the bounded buffer that feeds them.

The worker never touches a Qt object: it fills rows of a ``RowBuffer`` (bounded, so a
GUI that falls behind slows the simulation down instead of growing memory), and the GUI
timer drains it into a ``SeriesStore``, whose arrays are allocated once for the whole
run so every redraw hands pyqtgraph views, never fresh copies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from twin.events import Event


class SeriesStore:
    """Time and channel arrays for a whole run, filled from the front."""

    def __init__(self, channel_names: list[str], capacity: int) -> None:
        self.names = list(channel_names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.t_s = np.zeros(max(1, capacity))
        self.data = np.zeros((len(self.names), max(1, capacity)))
        self.n = 0
        self.events: list[Event] = []

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


class RowBuffer:
    """A bounded, thread-safe hand-over of rows and events from the worker to the GUI."""

    def __init__(self, n_channels: int, capacity: int = 16384) -> None:
        self._t_s = np.zeros(capacity)
        self._rows = np.zeros((capacity, n_channels))
        self._n = 0
        self._events: list[Event] = []
        self._closed = False
        self._space = threading.Condition()

    def put(self, t_s: float, fill: Callable[[np.ndarray], None]) -> None:
        """Worker side: wait while the buffer is full (until the GUI drains it or it is closed)."""
        with self._space:
            while self._n == len(self._t_s) and not self._closed:
                self._space.wait(0.1)
            if self._closed:
                return
            fill(self._rows[self._n])
            self._t_s[self._n] = t_s
            self._n += 1

    def put_events(self, events: list[Event]) -> None:
        with self._space:
            self._events.extend(events)

    def drain_into(self, store: SeriesStore) -> int:
        """GUI side: move everything pending into ``store``; returns the number of rows moved."""
        with self._space:
            n = self._n
            if n:
                store.extend(self._t_s[:n], self._rows[:n].T)
                self._n = 0
            store.events.extend(self._events)
            self._events = []
            self._space.notify_all()
        return n

    def close(self) -> None:
        """Release a waiting worker for good (the window is closing)."""
        with self._space:
            self._closed = True
            self._space.notify_all()

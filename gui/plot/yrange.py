"""Y ranges fitted to what the panels draw, computed once per redraw for all channels.

Why not pyqtgraph's y auto-range: on every paint after a ``setData`` each ViewBox asked
each of its items for its bounds (``childrenBounds``, ~120 Python calls a paint with the
limit lines and boundingRect checks), which cost 4-8 ms of a ~15 ms paint with a day on
screen (measured, same session, auto-range on vs off). The drawn envelope is already at
hand in ``Panels.refresh``: its per-channel max and min are one vectorised reduction, and
a range is only set when it changes.

The behaviour matches pyqtgraph's (visible data only, same padding, horizontal limit
lines included, hidden curves left out): a mouse zoom on a panel's y axis turns its
fitting off, and the panel's "A" button turns it back on.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


def _extremes(columns: np.ndarray, index: dict[str, int]) -> dict[str, tuple[float, float]]:
    """channel -> (min, max) of what is drawn, NaN-skipping; nothing for an empty view."""
    if columns.shape[1] == 0:
        return {}
    lows, highs = np.fmin.reduce(columns, axis=1), np.fmax.reduce(columns, axis=1)
    return {channel: (lows[i], highs[i]) for channel, i in index.items()}


class FittedY:
    """Owns the y range of every ViewBox that draws channel curves."""

    def __init__(self) -> None:
        self._curves: dict[pg.ViewBox, list[tuple[pg.PlotCurveItem, str, int]]] = {}  # (curve, channel, source)
        self._levels: dict[pg.ViewBox, list[float]] = {}  # horizontal limit lines
        self._fitted: dict[pg.ViewBox, tuple[float, float] | None] = {}  # None: the user's range
        self._on_change = []

    def add_curve(self, box: pg.ViewBox, curve: pg.PlotCurveItem, channel: str, source: int = 0) -> None:
        """``source``: which of ``fit``'s (columns, index) pairs holds the curve's data (1: a compared run)."""
        if box not in self._curves:
            self._curves[box], self._fitted[box] = [], (np.nan, np.nan)
            box.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
            box.sigRangeChangedManually.connect(lambda mask, box=box: self._manual(box, mask))
            box.sigStateChanged.connect(self._auto_requested)
        self._curves[box].append((curve, channel, source))

    def add_level(self, box: pg.ViewBox, level: float) -> None:
        self._levels.setdefault(box, []).append(level)

    def on_change(self, callback) -> None:
        """``callback()`` when a box returns to fitting (the window then redraws)."""
        self._on_change.append(callback)

    def fit(self, *sources: tuple[np.ndarray, dict[str, int]]) -> None:
        """Set each fitting box's range to its visible curves' extremes in their source's columns
        (channels x points; the first source is the window's run)."""
        if sources[0][0].shape[1] == 0:
            return
        extremes = [_extremes(columns, index) for columns, index in sources]
        for box, curves in self._curves.items():
            if self._fitted[box] is None:
                continue
            values = [v for curve, channel, source in curves if curve.isVisible()
                      for v in extremes[source].get(channel, ())]
            values = [v for v in values + self._levels.get(box, []) if np.isfinite(v)]
            if not values:
                continue
            bounds = (min(values), max(values))
            if bounds != self._fitted[box]:
                self._fitted[box] = bounds
                pad = (bounds[1] - bounds[0]) * box.suggestPadding(pg.ViewBox.YAxis)  # as auto-range pads
                box.setYRange(bounds[0] - pad, bounds[1] + pad, padding=0.0)

    def _manual(self, box: pg.ViewBox, mask) -> None:
        if mask[1]:
            self._fitted[box] = None

    def _auto_requested(self, box: pg.ViewBox) -> None:
        if box.autoRangeEnabled()[1]:  # the "A" button: fit again, by this class
            box.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
            self._fitted[box] = (np.nan, np.nan)
            for callback in self._on_change:
                callback()

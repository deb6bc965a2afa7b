"""Axis helpers: a clock-time x axis and a second y axis sharing a panel's x range."""

from __future__ import annotations

import pyqtgraph as pg

TICK_STEPS_S = (60, 300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)


class ClockAxis(pg.AxisItem):
    """Simulation seconds shown as local clock time (``HH:MM``, ``d2 HH:MM`` after the first day).

    The x data stays in seconds since the scenario start (what the twin and recorder use),
    so only the labels know about the calendar.
    """

    def __init__(self, start_hour: float, **kwargs) -> None:
        super().__init__("bottom", **kwargs)
        self.start_s = start_hour * 3600.0

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        span = max(maxVal - minVal, 1.0)
        wanted = span / max(size / 90.0, 1.0)  # a label every ~90 px
        major = next((s for s in TICK_STEPS_S if s >= wanted), TICK_STEPS_S[-1])
        minor = next((s for s in reversed(TICK_STEPS_S) if s <= major / 3), major)
        return [(major, 0), (minor, 0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        labels = []
        for value in values:
            clock_s = self.start_s + value
            day, rest = divmod(int(round(clock_s)), 86400)
            text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
            labels.append(f"d{day + 1} {text}" if day else text)
        return labels


def right_axis(plot: pg.PlotItem, label: str) -> pg.ViewBox:
    """A second ViewBox on ``plot``'s right axis, x-linked (pyqtgraph's MultiplePlotAxes example)."""
    box = pg.ViewBox()
    plot.showAxis("right")
    plot.scene().addItem(box)
    plot.getAxis("right").linkToView(box)
    plot.getAxis("right").setLabel(label)
    plot.getAxis("right").enableAutoSIPrefix(False)
    box.setXLink(plot)
    box.enableAutoRange(axis=pg.ViewBox.XAxis, enable=False)  # x comes from the link; y is fitted (gui.plot.yrange)

    def follow_geometry() -> None:
        box.setGeometry(plot.vb.sceneBoundingRect())
        box.linkedViewChanged(plot.vb, box.XAxis)

    plot.vb.sigResized.connect(follow_geometry)
    follow_geometry()
    return box

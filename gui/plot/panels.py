"""The stacked, time-aligned panels: one x range, one cursor, curves drawn from a ``SeriesStore``.

Each redraw hands every curve what one screen width shows: the store's samples when
they are fewer than two a pixel column, else a (max, min) pair per bin from a
``PeakEnvelope`` that reduces only newly completed bins. pyqtgraph's own downsampling and
clip-to-view are off for these curves: they re-read the whole visible day on each redraw.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from gui.data.channels import Limits
from gui.data.store import SeriesStore
from gui.plot.axes import ClockAxis, right_axis
from gui.plot.envelope import PeakEnvelope
from gui.plot.timeline import Timeline
from gui.plot.yrange import FittedY

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
LIMIT_PEN = pg.mkPen("#d62728", width=1, style=QtCore.Qt.PenStyle.DashLine)  # straight lines only
CACHED = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
CONTRACT_PEN = pg.mkPen("#d62728", width=1)
OVERLAY_COLOUR = (0, 0, 0, 150)  # a compared run: faint black over the run's colours, 1 px like every curve


def _pen(i: int, faint: bool = False):
    """Curves are always 1 px and solid: on Qt's raster engine a 2 px or dashed pen made a
    day-long curve's paint 3-10x slower (measured); a faint colour marks a reference curve."""
    colour = pg.mkColor(PALETTE[i % len(PALETTE)])
    if faint:
        colour.setAlpha(150)
    return pg.mkPen(colour, width=1)


class Panels(pg.GraphicsLayoutWidget):
    """All panels; ``refresh(store)`` redraws them, ``cursorMoved`` reports the shared cursor."""

    cursorMoved = QtCore.Signal(float)
    viewChanged = QtCore.Signal()  # x range or plot width: what is drawn must be recomputed

    def __init__(self, channel_names: list[str], start_hour: float, limits: Limits) -> None:
        super().__init__()
        self.setBackground("w")
        self.channels = set(channel_names)
        self.curves: list[tuple[pg.PlotCurveItem, str]] = []
        self.overlay_curves: list[tuple[pg.PlotCurveItem, str]] = []  # a compared run's (replay --compare)
        self._targets: dict[str, tuple] = {}  # channel -> (plot or right-axis box, legend) its curve is in
        self.plots: list[pg.PlotItem] = []
        self.by_title: dict[str, pg.PlotItem] = {}
        self.notes: dict[str, str] = {}  # panel title -> note shown on it (e.g. "not available over Modbus")
        self.cursors: list[pg.InfiniteLine] = []
        self._moving_cursor = False
        self._start_hour = start_hour
        self.paint_log: deque[tuple[float, float]] = deque(maxlen=100_000)  # (end, duration) of each paint
        self.envelope = PeakEnvelope()
        self.overlay_envelope = PeakEnvelope()
        self.fitted_y = FittedY()
        self.fitted_y.on_change(self.viewChanged.emit)

        grid = self._panel("Grid import", "kW")
        self._curve(grid, "grid_p_kw", "import", _pen(0))
        self._curve(grid, "contract_limit_kw", "contract limit", CONTRACT_PEN)

        pv = self._panel("PV", "kW")
        self._curve(pv, "pv_available_kw", "available", _pen(8, faint=True))
        self._curve(pv, "pv_p_kw", "produced", _pen(1))

        bess = self._panel("BESS", "kW")
        self._curve(bess, "bess_p_kw", "power (+ discharge)", _pen(2))
        self._curve(bess, "bess_p_set_kw", "setpoint", _pen(7, faint=True))
        soc = right_axis(bess, "SoC %")
        self._curve(soc, "bess_soc_pct", "SoC %", _pen(4), legend=bess.legend)

        ev = self._panel("EV charging", "kW")
        self._curve(ev, "ev_p_kw", "power", _pen(0))
        self._curve(ev, "ev_cap_kw", "cap", _pen(7, faint=True))
        counts = right_axis(ev, "vehicles")
        self._curve(counts, "charger_connected", "connected", _pen(2), legend=ev.legend)
        queues = sorted(n for n in channel_names if n.startswith("queue_len."))
        for i, name in enumerate(queues):
            self._curve(counts, name, "queue " + name.split(".", 1)[1], _pen(3 + i, faint=True),
                        legend=ev.legend)

        volts = self._panel("Bus voltage", "pu", legend_columns=5)
        for i, name in enumerate(n for n in channel_names if n.startswith("v_pu.")):
            self._curve(volts, name, name.split(".", 1)[1], _pen(i))
        for level in (limits.v_min_pu, limits.v_max_pu):
            self._limit_line(volts, level)

        trafo = self._panel("Transformer loading", "%", legend_columns=4)
        for i, name in enumerate(n for n in channel_names if n.startswith("trafo_loading_pct.")):
            self._curve(trafo, name, name.split(".", 1)[1], _pen(i))
        self._limit_line(trafo, limits.max_loading_pct)

        timeline_plot = self._panel("Events", "", legend=False)
        self.timeline = Timeline(timeline_plot, self.plots)
        self.ci.layout.setRowStretchFactor(len(self.plots) - 1, 1)
        for row in range(len(self.plots) - 1):
            self.ci.layout.setRowStretchFactor(row, 2)
        for plot in self.plots[:-1]:
            plot.getAxis("bottom").setStyle(showValues=False)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.plots[0].vb.sigXRangeChanged.connect(lambda *_: self.viewChanged.emit())  # all panels x-link to it
        self.plots[0].vb.sigResized.connect(lambda *_: self.viewChanged.emit())

    # -- building -------------------------------------------------------------------------
    def _panel(self, title: str, unit: str, legend: bool = True, legend_columns: int = 3) -> pg.PlotItem:
        plot = self.addPlot(row=len(self.plots), col=0, axisItems={"bottom": ClockAxis(self._start_hour)})
        plot.getAxis("left").setWidth(80)
        plot.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on an all-zero night of PV misleads
        plot.getAxis("left").setLabel(f"{title} ({unit})" if unit else title)
        # no grid: pyqtgraph's alpha-blended grid lines cost ~40-60 ms a paint offscreen (measured),
        # more than every curve together; the limit lines are the references that matter
        plot.setMenuEnabled(False)
        plot.enableAutoRange(axis=pg.ViewBox.XAxis, enable=False)
        if legend:
            plot.addLegend(offset=(5, 2), colCount=legend_columns, labelTextSize="7pt",
                           brush=pg.mkBrush(255, 255, 255, 200))
            plot.legend.setCacheMode(CACHED)
        for side in ("left", "bottom"):
            plot.getAxis(side).setCacheMode(CACHED)  # axes change only with the range: paint them from a pixmap
        if self.plots:
            plot.setXLink(self.plots[0])
        cursor = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#444444", width=1))
        cursor.sigPositionChanged.connect(self._cursor_dragged)
        plot.addItem(cursor, ignoreBounds=True)
        self.cursors.append(cursor)
        self.plots.append(plot)
        self.by_title[title] = plot
        return plot

    def _limit_line(self, plot: pg.PlotItem, level: float) -> None:
        plot.addItem(pg.InfiniteLine(level, angle=0, pen=LIMIT_PEN))
        self.fitted_y.add_level(plot.vb, level)  # the limits stay in view, as under auto-range

    def add_note(self, title: str, text: str) -> None:
        """A grey note in the top-right corner of a panel (the legend is top-left), fixed in pixels."""
        box = self.by_title[title].vb
        note = pg.TextItem(text, color="#666666", anchor=(1, 0))
        note.setParentItem(box)

        def place() -> None:
            note.setPos(box.width() - 8, 4)

        box.sigResized.connect(place)
        place()
        self.notes[title] = text

    def set_start_hour(self, start_hour: float) -> None:
        """Clock labels for a run whose start is learnt late (attach reads it from the server)."""
        for plot in self.plots:
            axis = plot.getAxis("bottom")
            axis.start_s = start_hour * 3600.0
            axis.picture = None
            axis.update()

    def _curve(self, target, channel: str, label: str, pen, legend=None) -> None:
        if channel not in self.channels:
            return  # a results folder from a site without this element
        # a bare PlotCurveItem: the data is already reduced and clipped (refresh), and
        # PlotDataItem's layer around it (display-data cache, finiteness and bounds scans, and
        # a second setData on y-range changes) cost ~1.5 ms a redraw for 30 curves (measured)
        curve = pg.PlotCurveItem(pen=pen, name=None if legend else label)
        target.addItem(curve)
        self.fitted_y.add_curve(target.vb if isinstance(target, pg.PlotItem) else target, curve, channel)
        curve.visibleChanged.connect(self.viewChanged.emit)  # a legend click hides or shows it: refit y
        if legend is not None:
            legend.addItem(curve, label)
        self.curves.append((curve, channel))
        self._targets[channel] = (target, legend, label)

    def add_overlay(self, channel: str, run_name: str) -> bool:
        """A second run's curve of ``channel`` on the same panel and axis as this run's; False if none."""
        if channel not in self._targets:
            return False
        target, legend, label = self._targets[channel]
        curve = pg.PlotCurveItem(pen=pg.mkPen(OVERLAY_COLOUR, width=1))
        target.addItem(curve)
        box = target.vb if isinstance(target, pg.PlotItem) else target
        self.fitted_y.add_curve(box, curve, channel, source=1)
        curve.visibleChanged.connect(self.viewChanged.emit)
        (legend if legend is not None else target.legend).addItem(curve, f"{label} — B: {run_name}")
        self.overlay_curves.append((curve, channel))
        return True

    # -- drawing --------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Timed, because path building and rasterising happen here, after ``setData``."""
        started = time.perf_counter()
        super().paintEvent(event)
        ended = time.perf_counter()
        self.paint_log.append((ended, ended - started))

    def refresh(self, store: SeriesStore, overlay: SeriesStore | None = None) -> None:
        """Redraw from ``store``, and the compared run's curves from ``overlay``."""
        sources = [self._draw(self.envelope, self.curves, store)]
        if overlay is not None:
            sources.append(self._draw(self.overlay_envelope, self.overlay_curves, overlay))
        self.fitted_y.fit(*sources)
        self.timeline.refresh(store)

    def _draw(self, envelope: PeakEnvelope, curves, store: SeriesStore) -> tuple[np.ndarray, dict[str, int]]:
        box = self.plots[0].vb
        x0_s, x1_s = box.viewRange()[0]
        t_s, columns = envelope.view(store, x0_s, x1_s, box.width())
        for curve, channel in curves:
            y = columns[store.index[channel]]
            # "all" builds the path straight from the arrays; "finite" only where a gap must show
            connect = "all" if np.isfinite(y).all() else "finite"
            curve.setData(t_s, y, connect=connect, skipFiniteCheck=connect == "all")
        return columns, store.index

    def set_x_range(self, start_s: float, end_s: float) -> None:
        self.plots[0].setXRange(start_s, end_s, padding=0.0)

    # -- the shared cursor ----------------------------------------------------------------
    @property
    def cursor_s(self) -> float:
        return float(self.cursors[0].value())

    def set_cursor(self, t_s: float) -> None:
        self._moving_cursor = True
        try:
            for cursor in self.cursors:
                cursor.setValue(t_s)
        finally:
            self._moving_cursor = False
        self.cursorMoved.emit(t_s)

    def _cursor_dragged(self, line: pg.InfiniteLine) -> None:
        if not self._moving_cursor:
            self.set_cursor(float(line.value()))

    def _clicked(self, event) -> None:
        for plot in self.plots:
            if plot.vb.sceneBoundingRect().contains(event.scenePos()):
                self.set_cursor(float(plot.vb.mapSceneToView(event.scenePos()).x()))
                return

"""The event timeline panel, and fault periods shaded across every panel.

Rows group the event kinds a site engineer reads together. Fault periods run from a
``fault`` event to the ``fault_cleared`` event of the same device; a fault still active
is drawn up to the newest sample so its effect is visible while it lasts.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from twin.model.events import Event

ROWS = (  # (label, colour, kinds) top to bottom
    ("faults", "#d62728", ("fault", "fault_cleared")),
    ("watchdog", "#9467bd", ("watchdog", "watchdog_trip", "watchdog_safe_state", "watchdog_restored")),
    ("controller", "#1f77b4", ("setpoint", "write", "controller_write")),
    ("lost", "#ff7f0e", ("balk", "renege")),
    ("vehicles", "#2ca02c", ("arrival", "plug", "departure", "swap")),
)
FAULT_BRUSH = pg.mkBrush(214, 39, 40, 40)


def row_of(kind: str) -> int | None:
    for row, (_label, _colour, kinds) in enumerate(ROWS):
        if kind in kinds or (row == 1 and kind.startswith("watchdog")):
            return row
    return None


class FaultPeriods:
    """Pairs fault / fault_cleared events; shades each period on every panel."""

    def __init__(self, plots: list[pg.PlotItem]) -> None:
        self.plots = plots
        self.starts_s: list[float] = []
        self.labels: list[str] = []
        self._open: dict[str, list[pg.LinearRegionItem]] = {}  # device -> regions still active
        self._regions: list[list[pg.LinearRegionItem]] = []

    def on_event(self, event: Event) -> None:
        if event.kind == "fault":
            regions = []
            for plot in self.plots:
                region = pg.LinearRegionItem((event.t_s, event.t_s), movable=False, brush=FAULT_BRUSH,
                                             pen=pg.mkPen(None))
                region.setZValue(-10)
                plot.addItem(region, ignoreBounds=True)
                regions.append(region)
            self._open.setdefault(event.device, []).append(regions)
            self._regions.append(regions)
            self.starts_s.append(event.t_s)
            label = f"{event.detail.split(' (')[0] or 'fault'} {event.device}".strip()
            self.labels.append(label)
            text = pg.TextItem(label, color="#d62728", anchor=(0, 0.5))
            text.setPos(event.t_s, len(ROWS) - 1.5)  # between the fault and watchdog rows
            self.plots[-1].addItem(text, ignoreBounds=True)
        elif event.kind == "fault_cleared" and self._open.get(event.device):
            for region in self._open[event.device].pop(0):
                region.setRegion((region.getRegion()[0], event.t_s))

    def extend_open(self, now_s: float) -> None:
        for open_regions in self._open.values():
            for regions in open_regions:
                for region in regions:
                    region.setRegion((region.getRegion()[0], now_s))

    def next_after(self, t_s: float) -> float | None:
        later = [s for s in self.starts_s if s > t_s + 1e-9]
        return min(later) if later else None


class Timeline:
    """Event markers per row on the last panel, fed incrementally from the store's event list."""

    def __init__(self, plot: pg.PlotItem, all_plots: list[pg.PlotItem]) -> None:
        self.plot = plot
        self.faults = FaultPeriods(all_plots)
        self._seen = 0
        self._times: list[list[float]] = [[] for _ in ROWS]
        self._markers = []
        for row, (label, colour, _kinds) in enumerate(ROWS):
            marker = pg.PlotDataItem(pen=None, symbol="s" if label == "faults" else "t", symbolSize=7,
                                     symbolBrush=colour, symbolPen=None, autoDownsampleFactor=1.0)
            plot.addItem(marker)
            marker.setClipToView(True)  # after addItem, which imposes the PlotItem's (off) settings
            marker.setDownsampling(auto=True, method="peak")
            self._markers.append(marker)
        plot.getAxis("left").setTicks([[(len(ROWS) - 1 - row, label) for row, (label, _c, _k) in enumerate(ROWS)]])
        plot.setYRange(-0.7, len(ROWS) - 0.3, padding=0)
        plot.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
        plot.setMouseEnabled(y=False)

    def refresh(self, store) -> None:
        new = store.events[self._seen:]
        self._seen = len(store.events)
        changed = set()
        for event in new:
            row = row_of(event.kind)
            if row is None:
                continue
            self._times[row].append(event.t_s)
            changed.add(row)
            self.faults.on_event(event)
        for row in changed:
            times = np.asarray(self._times[row])
            self._markers[row].setData(times, np.full(len(times), float(len(ROWS) - 1 - row)))
        if store.n:
            self.faults.extend_open(float(store.t_s[store.n - 1]))

"""The window shared by live and replay: panels, a readout at the cursor, PNG export, redraw timer."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from gui.data.channels import Limits
from gui.data.store import SeriesStore
from gui.plot.panels import Panels
from gui.plot.site_view import SiteView
from twin.config.site import Site

SITE_DOCK_WIDTH_PX = 560
SITE_PNG_SIZE_PX = (1400, 640)
# at most 10 site-view updates a second: a changed diagram's repaint costs ~10 ms (measured on a
# recorded day), so following every 20 ms redraw of a live run would halve the panels' redraw rate
SITE_VIEW_INTERVAL_MS = 100
REDRAW_INTERVAL_MS = 20  # up to 50 redraws/s; a redraw is skipped when nothing changed
READOUT = (("grid_p_kw", "grid", "kW"), ("pv_p_kw", "PV", "kW"), ("bess_p_kw", "BESS", "kW"),
           ("bess_soc_pct", "SoC", "%"), ("ev_p_kw", "EV", "kW"), ("charger_connected", "connected", ""))


class RedrawStats:
    """Durations of the timer's redraws (what the benchmark reports)."""

    def __init__(self) -> None:
        self.durations_s: list[float] = []
        self.stamps_s: list[float] = []

    def add(self, started_s: float, ended_s: float) -> None:
        self.durations_s.append(ended_s - started_s)
        self.stamps_s.append(ended_s)


class TwinWindow(QtWidgets.QMainWindow):
    """Panels over a ``SeriesStore``; subclasses feed the store and add their controls."""

    def __init__(self, title: str, channel_names: list[str], capacity: int, start_hour: float,
                 limits: Limits, duration_s: float, site: Site | None = None) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.store = SeriesStore(channel_names, capacity)
        self.overlay_store: SeriesStore | None = None  # a compared run (replay --compare)
        self.panels = Panels(channel_names, start_hour, limits)
        self.duration_s = duration_s
        self.panels.set_x_range(0.0, duration_s)
        self.panels.cursorMoved.connect(self._show_readout)
        self.panels.viewChanged.connect(self.mark_dirty)  # zoom, pan, resize: redraw at the next tick
        self.readout = QtWidgets.QLabel()
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.toolbar = self.addToolBar("run")
        self.toolbar.setMovable(False)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        self.controls = QtWidgets.QHBoxLayout()
        layout.addLayout(self.controls)
        layout.addWidget(self.panels, stretch=1)
        layout.addWidget(self.readout)
        self.setCentralWidget(central)
        self.site_view: SiteView | None = None
        if site is not None:
            self._add_site_view(site, limits)
        self.redraw_stats = RedrawStats()
        self._dirty = True
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        self.resize(1400, 1000)

    # -- redraw ---------------------------------------------------------------------------
    def pull(self) -> bool:
        """Move new data into the store; True when something changed (subclasses)."""
        return False

    def redraw(self) -> None:
        started = time.perf_counter()
        if self.pull() or self._dirty:
            self._dirty = False
            self.panels.refresh(self.store, self.overlay_store)
            self.after_refresh()
            self.show_site()  # the rows at the cursor may have arrived
            self.redraw_stats.add(started, time.perf_counter())

    # -- site view ------------------------------------------------------------------------
    def _add_site_view(self, site: Site, limits: Limits) -> None:
        """The one-line diagram in a dock beside the panels (the toolbar's "Site" hides or shows it)."""
        self.site_view = SiteView(site, limits)
        dock = self.site_dock = QtWidgets.QDockWidget("Site", self)
        dock.setObjectName("site")
        dock.setWidget(self.site_view)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.resizeDocks([dock], [SITE_DOCK_WIDTH_PX], QtCore.Qt.Orientation.Horizontal)
        self.toolbar.addAction(dock.toggleViewAction())
        self.panels.cursorMoved.connect(lambda _t_s: self.show_site())
        dock.visibilityChanged.connect(lambda _visible: self.show_site())
        self._site_due = True
        self._site_timer = QtCore.QTimer(self)
        self._site_timer.setInterval(SITE_VIEW_INTERVAL_MS)
        self._site_timer.timeout.connect(self._update_site_if_due)
        self._site_timer.start()

    def show_site(self) -> None:
        """Ask for the site view at the cursor (after each redraw, and when the cursor moves); it follows
        within ``SITE_VIEW_INTERVAL_MS``."""
        self._site_due = True

    def update_site(self) -> None:
        """The site view at the cursor, now."""
        if self.site_view is not None:
            self._site_due = False
            t_s = self.panels.cursor_s
            self.site_view.show_at(self.store, t_s, self.clock_text(t_s) if self.store.n else "")

    def _update_site_if_due(self) -> None:
        if self._site_due and self.site_view.isVisible():  # a hidden dock costs nothing
            self.update_site()

    def export_site_png(self, path: str | Path) -> Path:
        """The site view alone, floated out of the window at a size that suits the wide diagram."""
        if self.site_view is None:
            raise OSError("this window has no site view")
        self.site_dock.show()
        self.site_dock.setFloating(True)
        self.site_dock.resize(*SITE_PNG_SIZE_PX)
        self.redraw()
        self.update_site()
        return self._save_grab(self.site_view, path)

    def after_refresh(self) -> None:
        """Hook: move the cursor, update status (subclasses)."""

    def mark_dirty(self) -> None:
        self._dirty = True

    # -- readout at the cursor ------------------------------------------------------------
    def _show_readout(self, t_s: float) -> None:
        if self.store.n == 0:
            self.readout.setText("")
            return
        parts = [f"<b>{self.clock_text(t_s)}</b>"]
        for channel, label, unit in READOUT:
            if channel in self.store.index:
                text = f"{label} {self.store.value_at(channel, t_s):,.0f}"
                if self.overlay_store is not None and channel in self.overlay_store.index:
                    text += f" (B {self.overlay_store.value_at(channel, t_s):,.0f})"
                parts.append(f"{text} {unit}".rstrip())
        volts = [n for n in self.store.names if n.startswith("v_pu.")]
        if volts:
            values = np.array([self.store.value_at(n, t_s) for n in volts])
            parts.append(f"V {values.min():.3f}–{values.max():.3f} pu")
        self.readout.setText("  ·  ".join(parts))

    def clock_text(self, t_s: float) -> str:
        hours, rest = divmod(int(t_s), 3600)
        return f"t = {hours:d}:{rest // 60:02d}:{rest % 60:02d}"

    # -- export ---------------------------------------------------------------------------
    def export_png(self, path: str | Path) -> Path:
        """The whole window as it is now (toolbar, panels, readout, site view) — what the user sees."""
        return self._save_grab(self, path)

    def _save_grab(self, widget: QtWidgets.QWidget, path: str | Path) -> Path:
        self.redraw()
        QtWidgets.QApplication.processEvents()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not widget.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        return path

    def ask_export(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export view as PNG", "satwin-view.png",
                                                        "PNG image (*.png)")
        if path:
            self.export_png(path)
            self.statusBar().showMessage(f"wrote {path}", 5000)

    def add_export_action(self) -> None:
        action = QtGui.QAction("Export PNG…", self)
        action.triggered.connect(self.ask_export)
        self.toolbar.addAction(action)

"""``satwin gui RESULTS_DIR``: replay with a time slider, a viewing span and fault jumps."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from gui.data.replay import COMPARED_CHANNELS, ReplaySource
from gui.data.store import SeriesStore
from gui.windows.window import TwinWindow

SPANS = (("whole run", None), ("24 h", 86400.0), ("6 h", 21600.0), ("1 h", 3600.0), ("10 min", 600.0))
SLIDER_STEPS = 10_000  # the slider is a fraction of the run; fine enough for a year at 1 h


def verdict_summary(verdicts: list[dict]) -> str:
    if not verdicts:
        return ""
    passed = sum(v["passed"] for v in verdicts)
    colour = "#2ca02c" if passed == len(verdicts) else "#d62728"
    return f"  <b style='color:{colour}'>criteria {passed}/{len(verdicts)} passed</b>"


def verdict_details(verdicts: list[dict]) -> str:
    return "\n".join(f"{'PASS' if v['passed'] else 'FAIL'}  {v['criterion']}  (measured {v['measured']:.4g})"
                     for v in verdicts)


def run_label(meta: dict, folder: Path) -> str:
    return f"{meta.get('scenario', '?')} ({meta.get('controller', '?')}, {meta.get('status', '?')}) — {folder}"


class ReplayWindow(TwinWindow):
    """``compare_dir``: a second results folder whose grid import, SoC and EV power are drawn over this run's."""

    def __init__(self, results_dir: str | Path, compare_dir: str | Path | None = None) -> None:
        self.source = ReplaySource(results_dir)
        self.compared = ReplaySource(compare_dir, only=COMPARED_CHANNELS) if compare_dir is not None else None
        title = f"satwin replay — {run_label(self.source.meta, self.source.results_dir)}"
        if self.compared is not None:
            title += f"  vs  {run_label(self.compared.meta, self.compared.results_dir)}"
        super().__init__(title,
                         self.source.channels.names, self.source.total_rows, self.source.start_hour,
                         self.source.limits(), self.source.duration_s or 1.0, self.source.site())
        self.store.events.extend(self.source.events())  # small: the timeline and fault list need them all now
        self.span_s: float | None = None
        self._build_controls()
        if self.compared is not None:
            self._add_compared()

    def _add_compared(self) -> None:
        compared = self.compared
        self.overlay_store = SeriesStore(compared.names, compared.total_rows)
        name = compared.meta.get("controller") or compared.results_dir.name
        for channel in COMPARED_CHANNELS:
            self.panels.add_overlay(channel, name)
        self.toolbar.addWidget(QtWidgets.QLabel(f"  B (black): {compared.results_dir}"))

    def _build_controls(self) -> None:
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slider_moved)
        self.span_box = QtWidgets.QComboBox()
        self.span_box.addItems([label for label, _ in SPANS])
        self.span_box.currentIndexChanged.connect(
            lambda i: self.set_span(SPANS[i][1] if i < len(SPANS) else self.span_s))
        previous = QtGui.QAction("◀ previous fault", self)
        previous.triggered.connect(self.previous_fault)
        following = QtGui.QAction("next fault ▶", self)
        following.triggered.connect(self.next_fault)
        self.toolbar.addWidget(QtWidgets.QLabel(" view "))
        self.toolbar.addWidget(self.span_box)
        self.toolbar.addAction(previous)
        self.toolbar.addAction(following)
        self.add_export_action()
        self.controls.addWidget(QtWidgets.QLabel("time"))
        self.controls.addWidget(self.slider, stretch=1)
        self.verdicts = QtWidgets.QLabel(verdict_summary(self.source.verdicts()))
        self.verdicts.setToolTip(verdict_details(self.source.verdicts()))
        self.toolbar.addWidget(self.verdicts)
        self.loading = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.loading)
        self.panels.cursorMoved.connect(self._cursor_moved)

    # -- lazy loading ---------------------------------------------------------------------
    def pull(self) -> bool:
        chunk = self.source.read_next()
        compared = self.compared.read_next() if self.compared is not None else None
        if chunk is None and compared is None:
            return False
        if chunk is not None:
            self.store.extend(*chunk)
        if compared is not None:
            self.overlay_store.extend(*compared)
        self.loading.setText("loaded" if self.loaded else f"reading {self.source.progress:.0%}")
        return True

    @property
    def loaded(self) -> bool:
        return self.source.done and (self.compared is None or self.compared.done)

    def load_all(self) -> None:
        while self.pull():
            pass
        self.mark_dirty()
        self.redraw()

    # -- time navigation ------------------------------------------------------------------
    def set_time(self, t_s: float) -> None:
        self.panels.set_cursor(t_s)

    def set_span(self, span_s: float | None) -> None:
        self.span_s = span_s
        spans = [s for _, s in SPANS]
        if span_s not in spans:
            self.span_box.addItem(f"{span_s / 3600:g} h")
            spans.append(span_s)
        blocked = self.span_box.blockSignals(True)
        self.span_box.setCurrentIndex(spans.index(span_s))
        self.span_box.blockSignals(blocked)
        self._frame(self.panels.cursor_s)

    def _frame(self, t_s: float) -> None:
        if self.span_s is None or self.span_s >= self.duration_s:
            self.panels.set_x_range(0.0, self.duration_s)
            return
        start = min(max(0.0, t_s - self.span_s / 2), self.duration_s - self.span_s)
        self.panels.set_x_range(start, start + self.span_s)

    def _slider_moved(self, value: int) -> None:
        self.set_time(value / SLIDER_STEPS * self.duration_s)

    def _cursor_moved(self, t_s: float) -> None:
        blocked = self.slider.blockSignals(True)
        self.slider.setValue(round(t_s / self.duration_s * SLIDER_STEPS))
        self.slider.blockSignals(blocked)
        x_min, x_max = self.panels.plots[0].vb.viewRange()[0]
        if not x_min <= t_s <= x_max:
            self._frame(t_s)

    def next_fault(self) -> float | None:
        self.redraw()  # faults are known once the timeline has seen the events
        t_s = self.panels.timeline.faults.next_after(self.panels.cursor_s)
        if t_s is not None:
            self.set_time(t_s)
            self._frame(t_s)
        else:
            self.statusBar().showMessage("no later fault", 3000)
        return t_s

    def previous_fault(self) -> float | None:
        earlier = [s for s in self.panels.timeline.faults.starts_s if s < self.panels.cursor_s - 1e-9]
        if earlier:
            self.set_time(earlier[-1])
            self._frame(earlier[-1])
            return earlier[-1]
        self.statusBar().showMessage("no earlier fault", 3000)
        return None

    def ready_for_screenshot(self, at_s: float | None) -> bool:
        """Everything read; the cursor at ``at_s``, else at the first fault, else at the end."""
        if not self.loaded:
            return False
        self.redraw()
        faults = self.panels.timeline.faults.starts_s
        self.set_time(at_s if at_s is not None else (min(faults) if faults else self.duration_s))
        self._frame(self.panels.cursor_s)
        return True

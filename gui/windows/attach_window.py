"""``satwin gui --attach HOST:PORT``: the live panels fed by a Modbus poller (``gui.data.attach``)."""

from __future__ import annotations

import queue
import time

import numpy as np
from PySide6 import QtWidgets

from gui.data.attach import UNAVAILABLE, Poller
from gui.data.channels import Limits
from gui.windows.window import TwinWindow

INITIAL_ROWS = 4096  # the store doubles when a long watch outgrows it
MIN_VIEW_S = 600.0
SCREENSHOT_POLLS = 5  # --screenshot renders once this many polls have landed
UNAVAILABLE_PANELS = {
    "Bus voltage": f"bus voltages: {UNAVAILABLE}",
    "Transformer loading": f"transformer loading: {UNAVAILABLE}",
    "Events": f"events (arrivals, faults, writes): {UNAVAILABLE}; see the server's results folder",
    "EV charging": f"queue length: {UNAVAILABLE}",
}


class AttachWindow(TwinWindow):
    """Watches a served twin; the x axis spans first sample to now (``span_s``: a trailing window instead)."""

    def __init__(self, poller: Poller, span_s: float | None = None) -> None:
        from gui.data.attach import NO_ELEMENTS
        from gui.data.channels import Channels

        super().__init__(f"satwin attach — modbus tcp://{poller.address}", Channels(NO_ELEMENTS).names,
                         INITIAL_ROWS, 0.0, Limits(), MIN_VIEW_S)
        self.poller = poller
        self.span_s = span_s
        self.follow = True
        self._closing = False
        self._start_hour_known = False
        self.restarts = 0  # the server's sim time went backwards: a new run, the plot starts over
        for title, text in UNAVAILABLE_PANELS.items():
            self.panels.add_note(title, text)
        self.add_export_action()
        self.status = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.status, stretch=1)
        self._update_status()

    def start_run(self) -> None:
        """Start polling (``show`` calls it; the name matches the live window's)."""
        if not self.poller.alive and not self.poller.gave_up:
            self.poller.start()

    # -- feeding the panels ---------------------------------------------------------------
    @property
    def sim_now_s(self) -> float:
        return float(self.store.t_s[self.store.n - 1]) if self.store.n else 0.0

    def pull(self) -> bool:
        changed, until = False, time.perf_counter() + 0.010
        while time.perf_counter() < until:
            try:
                sample = self.poller.rows.get_nowait()
            except queue.Empty:
                break
            if sample.t_s <= 0:
                continue  # the server has not stepped yet: its registers are still empty
            if self.store.n and sample.t_s < self.sim_now_s:
                self.store.clear()  # a new run on the same server
                self.restarts += 1
            elif self.store.n and sample.t_s == self.sim_now_s:
                continue  # no step since the last poll (slow speed, or a paused server)
            if not self._start_hour_known:
                self.panels.set_start_hour((sample.hour_local - sample.t_s / 3600.0) % 24.0)
                self._start_hour_known = True
            self.store.extend(np.array([sample.t_s]), sample.row[:, None])
            changed = True
        return changed

    def after_refresh(self) -> None:
        now = self.sim_now_s
        if self.span_s:
            self.panels.set_x_range(max(0.0, now - self.span_s), max(now, self.span_s))
        elif self.store.n:  # from the first sample seen: attaching late does not waste the view on the past
            first = float(self.store.t_s[0])
            self.panels.set_x_range(first, max(first + MIN_VIEW_S, now + 0.02 * (now - first)))
        if self.follow and self.store.n:
            self.panels.set_cursor(now)
        self._update_status()

    def redraw(self) -> None:
        super().redraw()
        self._update_status()  # connection state changes without new rows

    def _update_status(self) -> None:
        poller = self.poller
        colour = "#2ca02c" if poller.connected else "#d62728"
        text = f"<span style='color:{colour}'>{poller.status}</span>"
        if self.store.n:
            text += f" · {self.clock_text(self.sim_now_s)} · {self.store.n} samples"
        if poller.dropped:
            text += f" · {poller.dropped} dropped"
        if text != self.status.text():
            self.status.setText(text)

    # -- shutdown and screenshots ---------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Stop polling (the thread ends within one read timeout) before the window goes."""
        if not self._closing:
            self._closing = True
            self.timer.stop()
            self.poller.stop()
        super().closeEvent(event)

    @property
    def failure(self) -> str | None:
        return self.poller.status if self.poller.gave_up else None

    def ready_for_screenshot(self, at_s: float | None) -> bool:
        """After a few polls and two samples (and, with ``at_s``, once sim time reaches it), or when the poller gave up."""
        self.redraw()
        if self.poller.gave_up:
            return True
        if self.store.n < 2 or self.poller.polls < SCREENSHOT_POLLS:
            return False  # one sample draws no line
        return at_s is None or self.sim_now_s >= at_s

"""``satwin gui SCENARIO``: the live view with start, pause, speed and fault injection."""

from __future__ import annotations

import time

from PySide6 import QtGui, QtWidgets

from gui.data.channels import Limits
from gui.data.live import LiveRun
from gui.windows.window import TwinWindow

SPEEDS = (1, 10, 60, 300, 600, 3600, 7200)


class LiveWindow(TwinWindow):
    def __init__(self, run: LiveRun) -> None:
        scenario = run.scenario
        limits = scenario.site.limits
        start = scenario.start
        super().__init__(f"satwin live — {scenario.name} ({run.controller})", run.channels.names,
                         scenario.n_steps, start.hour + start.minute / 60.0,
                         Limits(limits.v_min_pu, limits.v_max_pu, limits.max_loading_pct), scenario.duration_s,
                         scenario.site)
        self.run = run
        self.follow = True
        self._closing = False
        self._speed_probe = (time.perf_counter(), 0.0)
        self.measured_speed = 0.0
        self._build_controls()
        run.finished.connect(self._run_finished)
        self.panels.cursorMoved.connect(self._cursor_moved_by_user)

    def _build_controls(self) -> None:
        self.start_action = QtGui.QAction("Start", self)
        self.start_action.triggered.connect(self.start_run)
        self.pause_action = QtGui.QAction("Pause", self, checkable=True)
        self.pause_action.toggled.connect(self.set_paused)
        self.pause_action.setEnabled(False)
        self.speeds = sorted({*SPEEDS, self.run.clock.speed})
        self.speed_box = QtWidgets.QComboBox()
        self.speed_box.addItems([f"{s:g}×" for s in self.speeds])
        self.speed_box.setCurrentIndex(self.speeds.index(self.run.clock.speed))
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(self.speeds[i]))
        self.fault_action = QtGui.QAction("Inject fault…", self)
        self.fault_action.triggered.connect(self.ask_fault)
        self.follow_box = QtWidgets.QCheckBox("cursor follows")
        self.follow_box.setChecked(True)
        self.follow_box.toggled.connect(self._set_follow)
        for widget in (self.start_action, self.pause_action):
            self.toolbar.addAction(widget)
        self.toolbar.addWidget(QtWidgets.QLabel(" speed "))
        self.toolbar.addWidget(self.speed_box)
        self.toolbar.addAction(self.fault_action)
        self.toolbar.addWidget(self.follow_box)
        self.add_export_action()
        self.status = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self._update_status()

    # -- run control ----------------------------------------------------------------------
    def start_run(self) -> None:
        self.run.start()
        self.start_action.setEnabled(False)
        self.pause_action.setEnabled(True)
        self._speed_probe = (time.perf_counter(), self.sim_now_s)

    def set_paused(self, paused: bool) -> None:
        (self.run.clock.pause if paused else self.run.clock.resume)()
        self._update_status()

    def set_speed(self, speed: float) -> None:
        self.run.clock.set_speed(speed)
        if speed in self.speeds and self.speed_box.currentIndex() != self.speeds.index(speed):
            self.speed_box.setCurrentIndex(self.speeds.index(speed))

    def ask_fault(self) -> None:
        from gui.windows.fault_dialog import FaultDialog

        dialog = FaultDialog(self.run.scenario.site, self.sim_now_s, self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            from twin.config.errors import ScenarioError

            try:
                self.inject(dialog.fault())
            except (ScenarioError, ValueError) as exc:
                QtWidgets.QMessageBox.warning(self, "Fault not injected", str(exc))

    def inject(self, fault) -> None:
        """Queue the fault for the worker; it is logged (and recorded) at its exact sim time."""
        from twin.config.faults import check_fault

        check_fault(fault, self.run.scenario.site, None, "fault")  # refuse here, not inside the worker
        self.run.inject(fault)
        self.statusBar().showMessage(f"fault queued: {fault.kind} {fault.device} at t={fault.start_s:.0f} s", 5000)

    # -- feeding the panels ---------------------------------------------------------------
    @property
    def sim_now_s(self) -> float:
        return float(self.store.t_s[self.store.n - 1]) if self.store.n else 0.0

    def pull(self) -> bool:
        return self.run.poll(self.store) > 0

    def after_refresh(self) -> None:
        if self.follow and self.store.n:
            self.panels.set_cursor(self.sim_now_s)
            self.follow = True  # set_cursor reports a move; following stays on
        self._update_status()

    def _cursor_moved_by_user(self, t_s: float) -> None:
        if self.store.n and abs(t_s - self.sim_now_s) > 1e-6 and self.follow_box.isChecked():
            self.follow_box.setChecked(False)

    def _set_follow(self, on: bool) -> None:
        self.follow = on
        self.mark_dirty()

    def _update_status(self) -> None:
        now = time.perf_counter()
        probe_wall, probe_sim = self._speed_probe
        if now - probe_wall > 1.0:
            self.measured_speed = (self.sim_now_s - probe_sim) / (now - probe_wall)
            self._speed_probe = (now, self.sim_now_s)
        state = "paused" if self.run.clock.paused and self.run.running else self.run.status
        self.status.setText(f"{state} · {self.clock_text(self.sim_now_s)} of {self.duration_s / 3600:g} h · "
                            f"{self.measured_speed:,.0f}× real time · results {self.run.out_dir}")

    def _run_finished(self, status: str) -> None:
        self.pause_action.setEnabled(False)
        self.mark_dirty()
        self._update_status()
        if self.run.error:
            self.statusBar().showMessage(f"run failed: {self.run.error.splitlines()[-1]}")

    # -- shutdown -------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Stop the worker and finish the recording before the window goes."""
        if not self._closing:
            self._closing = True
            self.timer.stop()
            self.statusBar().showMessage("finishing the recording…")
            QtWidgets.QApplication.processEvents()
            self.run.stop(self.store)
        super().closeEvent(event)

    def ready_for_screenshot(self, at_s: float | None) -> bool:
        """True once the run has reached ``at_s`` (default: its end) or stopped."""
        target = self.duration_s if at_s is None else min(at_s, self.duration_s)
        self.redraw()
        return self.sim_now_s >= target - 1e-9 or (self.run.started and not self.run.running)

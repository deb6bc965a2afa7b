"""Starting the GUI: the Qt application, the right window for the target, screenshot mode.

``--screenshot`` must work on a CI machine with no display, so it falls back to Qt's
offscreen platform when no display is set (measured: pyqtgraph renders and ``grab()``s
there without Xvfb).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCREENSHOT_WALL_LIMIT_S = 600.0  # a screenshot run that cannot reach its moment gives up, exit 1


def qt_app(headless: bool):
    if headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    pg.setConfigOptions(antialias=False, foreground="k", background="w")
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])


def live_window(scenario, out_dir: Path, speed: float, controller: str | None = None):
    from gui.data.live import LiveRun
    from gui.windows.live_window import LiveWindow

    return LiveWindow(LiveRun(scenario, out_dir, speed=speed, controller=controller))


def replay_window(results_dir: Path, compare_dir: Path | None = None):
    from gui.windows.replay_window import ReplayWindow

    return ReplayWindow(results_dir, compare_dir)


def attach_window(host: str, port: int, span_s: float | None = None):
    from gui.data.attach import Poller
    from gui.windows.attach_window import AttachWindow

    return AttachWindow(Poller(host, port), span_s)


def show(window, start: bool, screenshot: Path | None, screenshot_at_s: float | None,
         site_screenshot: Path | None = None) -> int:
    """Run the event loop; with ``screenshot`` (the window) or ``site_screenshot`` (the site view alone),
    render once the moment is reached, then close."""
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance()
    window.show()
    if start and hasattr(window, "start_run"):
        window.start_run()
    outcome = {"code": 0}
    if screenshot is not None or site_screenshot is not None:
        deadline = QtCore.QElapsedTimer()
        deadline.start()

        def check() -> None:
            if window.ready_for_screenshot(screenshot_at_s):
                failure = getattr(window, "failure", None)
                if failure:  # an attach that lost its server for good
                    print(f"screenshot: {failure}", file=sys.stderr)
                    outcome["code"] = 1
                else:
                    for path, export in ((screenshot, window.export_png), (site_screenshot, window.export_site_png)):
                        if path is not None:
                            export(path)
                            print(f"wrote {path}")
            elif deadline.elapsed() < SCREENSHOT_WALL_LIMIT_S * 1e3:
                return
            else:
                print("screenshot: the view never reached the requested moment", file=sys.stderr)
                outcome["code"] = 1
            poll.stop()
            window.close()

        poll = QtCore.QTimer(window)
        poll.timeout.connect(check)
        poll.start(100)
    code = _exec_stoppable(app, window, outcome)
    return outcome["code"] or code


def _exec_stoppable(app, window, outcome: dict) -> int:
    """``app.exec()`` where SIGINT/SIGTERM close the window as its close button does (a live run's
    worker stops after its step and finishes the folder as ``interrupted``); exit code 130."""
    from PySide6 import QtCore

    from twin.run.signals import stop_on_signals

    def close(_reason: str) -> None:
        outcome["code"] = 130
        QtCore.QTimer.singleShot(0, window.close)  # from the event loop, not inside the signal handler

    wake = QtCore.QTimer(window)  # Qt's loop runs no Python: a tick lets the interpreter run the handler
    wake.timeout.connect(lambda: None)
    wake.start(200)
    with stop_on_signals(close):
        return app.exec()

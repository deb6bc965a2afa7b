"""The live window: a run of a few simulated minutes, pause, fault injection, clean shutdown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gui.data.live import LiveRun
from gui.windows.live_window import LiveWindow
from tests.gui.test_site_view import shown_at
from twin.config.faults import Fault
from twin.results.reader import read_events, read_timeseries


@pytest.fixture
def live(qtbot, short_holiday, tmp_path):
    def make(speed: float = 3600.0) -> LiveWindow:
        window = LiveWindow(LiveRun(short_holiday, tmp_path / "live", speed=speed))
        qtbot.addWidget(window)
        window.show()
        return window

    return make


def test_live_run_plots_every_step_and_finishes_the_recording(live, qtbot, tmp_path):
    window = live()
    window.start_run()
    with qtbot.waitSignal(window.run.finished, timeout=60_000) as finished:
        pass
    assert finished.args == ["completed"]
    qtbot.waitUntil(lambda: window.store.n == 600, timeout=5_000)
    assert window.store.time()[-1] == pytest.approx(600.0)
    assert np.all(np.diff(window.store.time()) == 1.0)  # nothing dropped between worker and GUI
    grid_curve = next(curve for curve, channel in window.panels.curves if channel == "grid_p_kw")
    assert len(grid_curve.xData) == 600 and grid_curve.yData.max() > 0
    assert window.panels.cursor_s == pytest.approx(600.0)  # the cursor follows the newest sample
    window.close()
    meta = json.loads((tmp_path / "live" / "run.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] == 600
    assert (tmp_path / "live" / "kpi.json").exists()
    assert read_timeseries(tmp_path / "live").num_rows == 600


def test_pause_holds_simulated_time_and_closing_interrupts_cleanly(live, qtbot, tmp_path):
    window = live(speed=60.0)
    window.start_run()
    qtbot.waitUntil(lambda: window.sim_now_s >= 5.0, timeout=20_000)
    window.pause_action.setChecked(True)
    qtbot.wait(300)  # let a step in flight land
    held = window.sim_now_s
    qtbot.wait(500)  # at 60x, half a second would be 30 simulated seconds
    assert window.sim_now_s == held
    window.pause_action.setChecked(False)
    qtbot.waitUntil(lambda: window.sim_now_s > held, timeout=10_000)
    window.close()  # mid-run: the worker stops and the folder is finished as interrupted
    assert not window.run.running
    meta = json.loads((tmp_path / "live" / "run.json").read_text())
    assert meta["status"] == "interrupted"
    assert 0 < meta["steps"] < 600
    assert (tmp_path / "live" / "report.md").exists()


def test_fault_injected_from_the_gui_is_recorded_in_the_events_table(live, qtbot, tmp_path):
    window = live(speed=600.0)
    window.start_run()
    qtbot.waitUntil(lambda: window.sim_now_s >= 60.0, timeout=20_000)
    window.inject(Fault(kind="transformer_outage", device="T_truck", start_s=window.sim_now_s + 30.0,
                        duration_s=120.0))
    window.set_speed(3600.0)
    with qtbot.waitSignal(window.run.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: window.store.n == 600, timeout=5_000)
    window.redraw()
    assert len(window.panels.timeline.faults.starts_s) == 1  # shaded on the panels as it happened
    # the site view shows the newest step (the cursor follows it), then the outage at the cursor
    site = window.site_view
    newest = window.store.value_at("trafo_loading_pct.T_truck", 600.0)
    assert window.panels.cursor_s == pytest.approx(600.0)
    qtbot.waitUntil(lambda: site.shown is not None and site.shown.branches["T_truck"].value == f"{newest:.0f} %",
                    timeout=5_000)
    shown_at(window, qtbot, window.panels.timeline.faults.starts_s[0] + 10.0)
    assert "open" in site.branch_labels["T_truck"].text() and "de-energized" in site.bus_labels["lv_truck"].text()
    window.close()
    events = read_events(tmp_path / "live").to_pylist()
    faults = [e for e in events if e["kind"] == "fault"]
    cleared = [e for e in events if e["kind"] == "fault_cleared"]
    assert len(faults) == 1 and faults[0]["device"] == "T_truck" and "gui" in faults[0]["detail"]
    assert len(cleared) == 1 and cleared[0]["t_s"] == pytest.approx(faults[0]["t_s"] + 120.0)
    # its effect: the truck transformer carries nothing while it is out
    series = read_timeseries(tmp_path / "live")
    t_s = series.column("t_s").to_numpy()
    loading = series.column("trafo_loading_pct.T_truck").to_numpy()
    during = (t_s > faults[0]["t_s"] + 1) & (t_s <= cleared[0]["t_s"])
    assert during.any() and np.all(loading[during] == 0.0)


def test_fault_dialog_offers_only_devices_the_twin_accepts(qtbot, short_holiday):
    from gui.windows.fault_dialog import FaultDialog

    dialog = FaultDialog(short_holiday.site, 100.0)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentText("transformer_outage")
    devices = [dialog.device.itemText(i) for i in range(dialog.device.count())]
    assert "T_truck" in devices
    dialog.device.setCurrentText("T_truck")
    dialog.duration.setValue(90)
    fault = dialog.fault()
    assert (fault.kind, fault.device, fault.start_s, fault.duration_s) == ("transformer_outage", "T_truck", 100.0, 90.0)
    dialog.kind.setCurrentText("utility_outage")
    assert dialog.fault().device == "" and not dialog.device.isEnabled()

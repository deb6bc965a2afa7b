"""Replay of two runs overlaid (``satwin gui RUN_A --compare RUN_B``): the second run's data, drawn right."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from gui.data.replay import COMPARED_CHANNELS
from gui.windows.replay_window import ReplayWindow
from tests.gui.test_cli import satwin_gui
from twin.results.side_by_side import OVERLAY


def _recorded(folder, column: str) -> np.ndarray:
    parts = sorted((folder / "timeseries").glob("part-*.parquet"))
    return np.concatenate([pq.read_table(p, columns=[column]).column(column).to_numpy() for p in parts])


def test_the_gui_overlays_what_satwin_compare_overlays():
    assert COMPARED_CHANNELS == tuple(name for name, _title, _unit in OVERLAY)


def test_replay_draws_the_second_run_over_the_first(qtbot, recorded_fault_run, recorded_uncontrolled_run):
    window = ReplayWindow(recorded_fault_run, recorded_uncontrolled_run)
    qtbot.addWidget(window)
    window.show()
    window.load_all()
    assert window.overlay_store.n == 1800 and window.store.n == 1800
    window.set_span(600.0)  # 600 samples on ~1000 px: the samples themselves are drawn, not an envelope
    window.set_time(900.0)
    window.mark_dirty()
    window.redraw()
    assert [channel for _curve, channel in window.panels.overlay_curves] == list(COMPARED_CHANNELS)
    primary = dict((channel, curve) for curve, channel in window.panels.curves)
    for curve, channel in window.panels.overlay_curves:
        x, y = curve.getData()
        recorded_b = _recorded(recorded_uncontrolled_run, channel)
        k = np.rint(x).astype(int) - 1  # rows are stamped at the end of their 1 s step
        assert 550 <= x[0] <= 600 and 1200 <= x[-1] <= 1250
        np.testing.assert_allclose(y, recorded_b[k])
        x_a, y_a = primary[channel].getData()
        np.testing.assert_allclose(y_a, _recorded(recorded_fault_run, channel)[np.rint(x_a).astype(int) - 1])
        assert curve.isVisible() and curve.getViewBox() is primary[channel].getViewBox()  # same panel and axis
    # the runs differ (peak shaving with faults vs no controller), so both series are really there
    assert not np.allclose(window.overlay_store.series("bess_soc_pct"), window.store.series("bess_soc_pct"))
    assert "(B " in window.readout.text()


def test_compare_from_the_command_line(recorded_fault_run, recorded_uncontrolled_run, tmp_path):
    png = tmp_path / "compare.png"
    done = satwin_gui(str(recorded_fault_run), "--compare", str(recorded_uncontrolled_run), "--screenshot", str(png))
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 10_000
    done = satwin_gui(str(recorded_fault_run), "--compare", str(tmp_path))  # no run.json there
    assert done.returncode == 2 and "Traceback" not in done.stderr and "run.json" in done.stderr

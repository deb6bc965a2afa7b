"""Replay of a recorded fault scenario: lazy reading, fault markers, jumping, slider, export."""

from __future__ import annotations

import pytest

from gui.windows.replay_window import ReplayWindow


@pytest.fixture
def replay(qtbot, recorded_fault_run):
    window = ReplayWindow(recorded_fault_run)
    qtbot.addWidget(window)
    window.show()
    return window


def test_replay_reads_only_plotted_columns_and_every_row(replay, qtbot):
    assert replay.source.total_rows == 1800  # from the Parquet footers, before any data is read
    assert "charger_p_kw.car_dc_1" not in replay.source.columns
    assert "v_pu.mv" in replay.source.columns
    qtbot.waitUntil(lambda: replay.loaded, timeout=10_000)
    replay.redraw()
    assert replay.store.n == 1800
    assert replay.store.time()[0] == pytest.approx(1.0) and replay.store.time()[-1] == pytest.approx(1800.0)


def test_fault_markers_and_jump_to_next_fault(replay, qtbot):
    replay.load_all()
    faults = replay.panels.timeline.faults
    assert faults.starts_s == pytest.approx([600.0, 1200.0])
    replay.set_time(0.0)
    assert replay.next_fault() == pytest.approx(600.0)
    assert replay.panels.cursor_s == pytest.approx(600.0)
    assert replay.next_fault() == pytest.approx(1200.0)
    assert replay.next_fault() is None
    assert replay.previous_fault() == pytest.approx(600.0)
    region = faults._regions[0][0].getRegion()
    assert region == pytest.approx((600.0, 900.0))  # fault to fault_cleared


def test_slider_moves_the_shared_cursor_and_the_view(replay, qtbot):
    replay.load_all()
    replay.span_box.setCurrentText("10 min")
    replay.slider.setValue(replay.slider.maximum() // 2)
    assert replay.panels.cursor_s == pytest.approx(900.0)
    assert all(cursor.value() == pytest.approx(900.0) for cursor in replay.panels.cursors)
    x_min, x_max = replay.panels.plots[0].vb.viewRange()[0]
    assert x_min <= 900.0 <= x_max and x_max - x_min == pytest.approx(600.0, rel=0.05)
    assert "grid" in replay.readout.text()


def test_export_png_writes_the_view(replay, tmp_path):
    replay.load_all()
    path = replay.export_png(tmp_path / "view.png")
    assert path.stat().st_size > 10_000


def test_criteria_verdicts_show_in_the_toolbar(replay):
    verdicts = replay.source.verdicts()
    assert len(verdicts) == 2
    passed = sum(v["passed"] for v in verdicts)
    assert f"criteria {passed}/2 passed" in replay.verdicts.text()
    assert "bus_v_pu.min >= 0.95" in replay.verdicts.toolTip()

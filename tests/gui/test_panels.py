"""The panels draw a whole day from the envelope and fit y ranges themselves, as auto-range did."""

from __future__ import annotations

import numpy as np
import pytest

from gui.data.store import SeriesStore
from gui.plot.panels import Limits, Panels

NAMES = ["grid_p_kw", "contract_limit_kw", "pv_p_kw", "v_pu.mv", "v_pu.lv"]


@pytest.fixture
def day(qtbot):
    panels = Panels(NAMES, 0.0, Limits(v_min_pu=0.95, v_max_pu=1.05))
    qtbot.addWidget(panels)
    panels.resize(1200, 900)
    panels.show()
    panels.set_x_range(0.0, 86_400.0)
    store = SeriesStore(NAMES, 86_400)
    t_s = np.arange(1.0, 86_401.0)
    block = np.vstack([1000 + 500 * np.sin(t_s / 3600), np.full_like(t_s, 4000.0), np.zeros_like(t_s),
                       np.full_like(t_s, 1.0), np.full_like(t_s, 0.99)])
    store.extend(t_s[:43_200], block[:, :43_200])
    return panels, store, t_s, block


def _y_range(panels, title):
    return panels.by_title[title].vb.viewRange()[1]


def test_a_day_is_drawn_as_a_peak_envelope_and_y_fits_data_and_limits(day):
    panels, store, _t_s, _block = day
    panels.refresh(store)
    grid = next(curve for curve, channel in panels.curves if channel == "grid_p_kw")
    assert len(grid.xData) < 2 * 1200 * 2  # about a (max, min) pair per pixel column, not 43,200 points
    low, high = _y_range(panels, "Grid import")
    assert low < 500 and high > 4000  # the import and the contract limit
    low, high = _y_range(panels, "Bus voltage")
    assert low < 0.95 and high > 1.05  # the limit lines stay in view, as under auto-range


def test_a_manual_y_zoom_stops_fitting_until_the_auto_button(day):
    panels, store, t_s, block = day
    panels.refresh(store)
    box = panels.by_title["Grid import"].vb
    box.setYRange(0.0, 100.0, padding=0.0)
    box.sigRangeChangedManually.emit([True, True])  # what a wheel zoom reports
    block = block.copy()
    block[0, 43_200:] = 9000.0
    store.extend(t_s[43_200:], block[:, 43_200:])
    panels.refresh(store)
    assert _y_range(panels, "Grid import") == pytest.approx([0.0, 100.0])
    box.enableAutoRange()  # the "A" button
    panels.refresh(store)
    low, high = _y_range(panels, "Grid import")
    assert low < 500 and high > 9000

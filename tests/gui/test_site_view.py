"""The site view: the one-line diagram coloured from the plots' store at the cursor, in replay and live."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from gui.data.channels import Limits
from gui.data.store import SeriesStore
from gui.plot.site_view import SiteView
from gui.windows.replay_window import ReplayWindow
from tests.conftest import HOLIDAY
from twin.config.scenario import load_scenario
from twin.config.site import FEEDER_LINE, UTILITY_BUS
from twin.model.events import Event
from twin.results.one_line_layout import DEAD_COLOUR, LOADING_STOPS, VOLTAGE_STOPS, colour_at

LIMITS = Limits(0.95, 1.05, 100.0)


def _event(t_s: float, kind: str, device: str, detail: str) -> Event:
    return Event(t_s=t_s, kind=kind, device=device, vehicle_id=-1, value=0.0, detail=detail)


@pytest.fixture
def view(qtbot):
    site = load_scenario(HOLIDAY).site
    widget = SiteView(site, LIMITS)
    qtbot.addWidget(widget)
    return widget


def _store(view: SiteView, rows: list[dict[str, float]]) -> SeriesStore:
    """A store with the diagram's channels; ``rows`` at t = 1, 2, ... s (missing values nominal)."""
    names = [f"v_pu.{bus}" for bus in view.diagram.buses]
    names += [f"{'trafo' if b.kind == 'trafo' else 'line'}_loading_pct.{b.name}" for b in view.diagram.branches]
    store = SeriesStore(names, len(rows))
    block = np.array([[row.get(n, 1.0 if n.startswith("v_pu.") else 40.0) for row in rows] for n in names])
    store.extend(np.arange(1.0, len(rows) + 1.0), block)
    return store


def test_bus_voltage_and_branch_loading_set_the_colours(view):
    trafo = next(b.name for b in view.diagram.branches if b.kind == "trafo")
    bus = view.diagram.branches[1].to_bus  # a transformer's LV bus
    store = _store(view, [{}, {f"v_pu.{bus}": 0.93, f"trafo_loading_pct.{trafo}": 120.0}])
    view.show_at(store, 1.0)
    assert view.bus_bars[bus].pen().color().name() == colour_at(1.0, 0.95, 1.05, VOLTAGE_STOPS)
    assert view.branch_lines[trafo].pen().color().name() == colour_at(40.0, 0.0, 100.0, LOADING_STOPS)
    assert "40 %" in view.branch_labels[trafo].text() and "overloaded" not in view.branch_labels[trafo].text()
    view.show_at(store, 2.0)
    assert view.bus_bars[bus].pen().color().name() == VOLTAGE_STOPS[0][1]  # below the band: the low end
    assert "0.9300 pu" in view.bus_labels[bus].text() and "low voltage" in view.bus_labels[bus].text()
    assert view.branch_lines[trafo].pen().color().name() == LOADING_STOPS[-1][1]
    assert "120 %" in view.branch_labels[trafo].text() and "overloaded" in view.branch_labels[trafo].text()
    assert view.shown.branches[FEEDER_LINE].value == "40 %"


def test_faults_mark_opened_branches_tripped_devices_and_dead_buses(view):
    trafo = next(b for b in view.diagram.branches if b.kind == "trafo")
    pv = next(d.name for d in view.diagram.devices if d.kind == "pv")
    charger = next(d.name for d in view.diagram.devices if d.kind == "charger")
    store = _store(view, [{}, {f"v_pu.{trafo.to_bus}": 0.0}, {}])
    store.events += [_event(1.5, "fault", trafo.name, "transformer_outage (scenario)"),
                     _event(1.5, "fault", pv, "pv_trip (gui)"),
                     _event(1.5, "fault", f"{charger}_2", "charger_fault (scenario)"),
                     _event(1.5, "fault", "site", "utility_outage (scenario)"),
                     _event(2.5, "fault_cleared", trafo.name, "transformer_outage")]
    view.show_at(store, 1.0)
    assert view.branch_lines[trafo.name].pen().style() == QtCore.Qt.PenStyle.SolidLine
    assert view.device_marks[pv].text() == ""
    view.show_at(store, 2.0)
    line = view.branch_lines[trafo.name].pen()
    assert line.style() == QtCore.Qt.PenStyle.DashLine and line.color().name() == DEAD_COLOUR
    assert "open" in view.branch_labels[trafo.name].text()
    assert view.bus_bars[trafo.to_bus].pen().color().name() == DEAD_COLOUR
    assert "de-energized" in view.bus_labels[trafo.to_bus].text()
    assert view.device_marks[pv].text() == "tripped"
    assert view.device_marks[charger].text() == "faulted"  # a connector's fault marks its group
    assert "utility lost" in view.bus_labels[UTILITY_BUS].text()
    view.show_at(store, 3.0)  # the transformer is back; the others last
    assert view.branch_lines[trafo.name].pen().style() == QtCore.Qt.PenStyle.SolidLine
    assert "open" not in view.branch_labels[trafo.name].text()
    assert view.device_marks[pv].text() == "tripped"


def shown_at(window, qtbot, t_s: float) -> None:
    """Move the cursor and wait (bounded) until the site view, which follows within 100 ms, shows it."""
    window.panels.set_cursor(t_s)
    qtbot.waitUntil(lambda: window.site_view.caption.text().endswith(window.clock_text(t_s)), timeout=5_000)


def test_replay_site_view_follows_the_cursor_through_a_recorded_outage(qtbot, recorded_fault_run):
    window = ReplayWindow(recorded_fault_run)
    qtbot.addWidget(window)
    window.show()
    window.load_all()
    site = window.site_view
    recorded_buses = {n.split(".", 1)[1] for n in window.store.names if n.startswith("v_pu.")}
    assert site is not None and set(site.bus_bars) == recorded_buses | {UTILITY_BUS}  # the slack is not recorded
    shown_at(window, qtbot, 300.0)  # before the outage of T_truck (600-900 s)
    assert "open" not in site.branch_labels["T_truck"].text()
    recorded = window.store.value_at("trafo_loading_pct.T_truck", 300.0)
    assert f"{recorded:.0f} %" in site.branch_labels["T_truck"].text()
    limit_pct = window.source.limits().max_loading_pct
    assert site.branch_lines["T_truck"].pen().color().name() == colour_at(recorded, 0.0, limit_pct, LOADING_STOPS)
    shown_at(window, qtbot, 700.0)
    assert "open" in site.branch_labels["T_truck"].text()
    assert site.branch_lines["T_truck"].pen().style() == QtCore.Qt.PenStyle.DashLine
    lv = next(t.lv_bus for t in window.source.site().transformers if t.name == "T_truck")
    assert window.store.value_at(f"v_pu.{lv}", 700.0) == 0.0 and "de-energized" in site.bus_labels[lv].text()
    shown_at(window, qtbot, 1250.0)  # the BESS trip
    assert site.device_marks["bess"].text() == "tripped" and "open" not in site.branch_labels["T_truck"].text()


def test_site_screenshot_from_the_command_line(recorded_fault_run, tmp_path):
    """What regenerates docs/gui/site.png (docs/gui.md), on the short recorded fault run."""
    from tests.gui.test_cli import satwin_gui

    png = tmp_path / "site.png"
    done = satwin_gui(str(recorded_fault_run), "--at", "11min", "--screenshot-site", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    done = satwin_gui("--attach", "127.0.0.1:1", "--screenshot-site", str(png))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "no site view" in done.stderr


def test_the_docs_name_every_mark_the_site_view_draws():
    from pathlib import Path

    from gui.data.site_state import FAULT_MARKS

    text = (Path(__file__).resolve().parents[2] / "docs" / "gui.md").read_text()
    section = text.split("## Site view", 1)[1].split("\n## ", 1)[0]
    for kind, mark in FAULT_MARKS.items():
        assert f"`{kind}`" in section and f'"{mark}"' in section, kind
    for mark in ("low voltage", "high voltage", "de-energized", "overloaded", "open"):
        assert f'"{mark}"' in section, mark

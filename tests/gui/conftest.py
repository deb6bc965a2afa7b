"""GUI tests run offscreen (no display needed) and drive the real windows with pytest-qt."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from tests.conftest import HOLIDAY  # noqa: E402
from twin.config.scenario import load_scenario  # noqa: E402


@pytest.fixture(scope="session")
def qapp_args():
    return ["satwin-tests"]


@pytest.fixture(autouse=True)
def _gui_app(qapp):
    from gui.windows.app import qt_app

    qt_app(headless=True)  # the GUI's pyqtgraph options on pytest-qt's application
    return qapp


@pytest.fixture
def short_holiday():
    """Ten minutes of the holiday at 1 s steps: a live run that ends in about a second at 3600x."""
    return load_scenario(HOLIDAY).with_options(duration_s=600.0)


@pytest.fixture(scope="session")
def recorded_fault_run(tmp_path_factory):
    """A headless 30-minute run with a transformer outage and a PV trip scheduled, to replay."""
    from twin.config.faults import Fault
    from twin.run.session import run_scenario

    scenario = load_scenario(HOLIDAY).with_options(duration_s=1800.0)
    scenario = scenario.model_copy(update={"criteria": ("bus_v_pu.min >= 0.95", "unserved_ev_energy_pct <= 3"),
                                           "faults": (
        Fault(kind="transformer_outage", device="T_truck", start_s=600.0, duration_s=300.0),
        Fault(kind="bess_trip", device="bess", start_s=1200.0, duration_s=120.0),
    )})
    out = tmp_path_factory.mktemp("replay") / "fault-run"
    result = run_scenario(scenario, out)
    assert result.status == "completed"
    return out


@pytest.fixture(scope="session")
def recorded_uncontrolled_run(tmp_path_factory):
    """The first 30 minutes of the holiday again, with no controller and no fault: a run to compare with."""
    from twin.run.session import run_scenario

    scenario = load_scenario(HOLIDAY).with_options(duration_s=1800.0, controller="none")
    out = tmp_path_factory.mktemp("replay") / "uncontrolled-run"
    assert run_scenario(scenario, out).status == "completed"
    return out

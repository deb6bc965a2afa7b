"""pandapower round trip: a site's network with its ratings, and one recorded step that
``pandapower.runpp`` reproduces; the one-line diagram."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from tests.conftest import FREIGHT_SITE, SCENARIOS
from twin.config.scenario import load_scenario
from twin.config.site import load_site
from twin.results.reader import read_timeseries
from twin.run.session import run_scenario

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandapower as pp


def _satwin(*args):
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=300)


def test_the_exported_site_network_carries_storage_energy_and_ratings(tmp_path):
    path = tmp_path / "net.json"
    done = _satwin("grid", str(FREIGHT_SITE), "--export", str(path))
    assert done.returncode == 0, done.stderr
    net = pp.from_json(str(path))
    storage = net.storage.iloc[0]
    assert storage.max_e_mwh == pytest.approx(7.524) and storage.max_p_mw == pytest.approx(3.2)
    assert storage.sn_mva == pytest.approx(3.2) and storage.soc_percent == 60
    assert not net.sgen.sn_mva.isna().any() and not net.load.sn_mva.isna().any()
    site = load_site(FREIGHT_SITE)
    assert net.sgen.set_index("name").sn_mva.to_dict() == {a.name: pytest.approx(a.inverter_kw / 1000) for a in site.pv}


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory):
    """The network-outage scenario (T_car open 12:00-13:00) at 1 min steps, to 14:00."""
    scenario = load_scenario(SCENARIOS / "network-outage.toml").with_options(step_s=60.0, duration_s=14 * 3600.0)
    out = tmp_path_factory.mktemp("grid") / "run"
    run_scenario(scenario, out)
    return out


@pytest.mark.parametrize("at, t_s, opened", [("10:00", 36000.0, False), ("12:30", 45000.0, True)])
def test_a_recorded_step_exported_reproduces_the_recorded_voltages(outage_run, tmp_path, at, t_s, opened):
    path = tmp_path / "step.json"
    done = _satwin("grid", "--from", str(outage_run), "--at", at, "--export", str(path))
    assert done.returncode == 0, done.stderr
    net = pp.from_json(str(path))
    assert (not net.trafo.set_index("name").in_service["T_car"]) == opened
    pp.runpp(net, numba=False, tolerance_mva=1e-9)
    ts = read_timeseries(outage_run, ("v_pu.",)).to_pandas().set_index("t_s")
    recorded = ts.loc[t_s]
    got = net.res_bus.set_index(net.bus.name).vm_pu.fillna(0.0)
    for column, value in recorded.items():
        # the recording keeps voltages and powers as float32 (docs/speed.md): agreement to its precision
        assert got[column.removeprefix("v_pu.")] == pytest.approx(value, abs=1e-6), column
    assert net.load.p_mw.sum() > 1.0  # the step's load is in the file, not an empty network
    if opened:
        assert recorded["v_pu.lv_car"] == 0.0 and np.isnan(net.res_bus.set_index(net.bus.name).vm_pu["lv_car"])


def test_grid_refuses_a_time_after_the_run(outage_run):
    done = _satwin("grid", "--from", str(outage_run), "--at", "20h")
    assert done.returncode == 2 and "after the recorded run" in done.stderr


def test_the_one_line_diagram_is_drawn_and_in_the_report(outage_run, tmp_path):
    path = tmp_path / "one-line.png"
    done = _satwin("grid", str(FREIGHT_SITE), "--plot", str(path))
    assert done.returncode == 0, done.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    assert "![one-line](one-line.png)" in (outage_run / "report.md").read_text()
    assert (outage_run / "one-line.png").stat().st_size > 20_000

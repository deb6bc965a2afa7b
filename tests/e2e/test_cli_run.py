"""The CLI as a user runs it: a short headless run, the grid export, the KPI table."""

from __future__ import annotations

import json
import subprocess
import sys

import pandapower as pp

from tests.conftest import FREIGHT_SITE, HOLIDAY, PASSENGER_SITE


def satwin(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=timeout)


def test_run_prints_kpis_and_writes_the_folder(tmp_path):
    out = tmp_path / "r"
    done = satwin("run", str(HOLIDAY), "--step", "5min", "--duration", "24h", "--controller", "none",
                  "--seed", "3", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Peak grid import" in done.stdout and "Unserved EV energy" in done.stdout
    kpis = json.loads((out / "kpi.json").read_text())
    assert kpis["steps"] == 288
    meta = json.loads((out / "run.json").read_text())
    assert meta["controller"] == "none" and meta["seed"] == 3 and meta["step_s"] == 300


def test_run_on_another_site(tmp_path):
    out = tmp_path / "p"
    done = satwin("run", str(HOLIDAY), "--site", str(PASSENGER_SITE), "--step", "15min", "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "run.json").read_text())["site"] == "passenger-xianshan"


def test_grid_export_is_pandapower_json(tmp_path):
    path = tmp_path / "net.json"
    done = satwin("grid", str(FREIGHT_SITE), "--export", str(path))
    assert done.returncode == 0, done.stderr
    net = pp.from_json(str(path))
    assert "utility" in set(net.bus.name) and net.ext_grid.in_service.sum() == 1  # + the idle island source

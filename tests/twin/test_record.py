"""Recording: a finished run's folder, a killed run's readable Parquet, an interrupted run's status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import HOLIDAY
from twin.results.kpi import compute_kpis
from twin.results.reader import read_events, read_meta, read_timeseries
from twin.run.session import run_scenario


def test_results_folder_is_complete_and_kpis_match_the_recording(holiday, tmp_path):
    scenario = holiday.with_options(step_s=60.0, duration_s=12 * 3600.0)
    result = run_scenario(scenario, tmp_path / "run")
    folder = result.out_dir
    for name in ("run.json", "kpi.json", "report.md", "plot.png", "scenario.toml", "site.toml", "resolved.json"):
        assert (folder / name).exists(), name
    ts = read_timeseries(folder)
    assert ts.num_rows == 720 and read_meta(folder)["status"] == "completed"
    kinds = set(read_events(folder).column("kind").to_pylist())
    assert {"arrival", "plug", "departure", "setpoint"} <= kinds
    kpis = json.loads((folder / "kpi.json").read_text())
    grid = ts.column("grid_p_kw").to_numpy()
    assert kpis["peak_grid_import_kw"] == pytest.approx(grid.max())
    assert kpis["energy_imported_kwh"] == pytest.approx(grid.clip(min=0).sum() / 60.0)
    assert kpis["vehicles_arrived"] == read_events(folder).column("kind").to_pylist().count("arrival")
    assert "Peak grid import" in (folder / "report.md").read_text()


def test_a_killed_run_leaves_readable_parquet(tmp_path):
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "twin", "run", str(HOLIDAY), "--step", "1s", "--duration", "24h",
                                "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "timeseries").glob("part-*.parquet"))) < 2:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert read_meta(out)["status"] == "running"  # it never got to say otherwise
    ts = read_timeseries(out)
    assert ts.num_rows >= 7200 and ts.num_rows % 3600 == 0
    t = ts.column("t_s").to_numpy()
    assert (t[1:] - t[:-1] == 1.0).all() and t[0] == 1.0
    assert compute_kpis(out)["steps"] == ts.num_rows  # KPIs of what survived still compute
    assert not list(out.rglob("*.tmp"))


def test_an_interrupted_run_is_finished_and_marked(holiday, tmp_path):
    stop = threading.Event()

    def progress(done, total):
        if done > 300:
            stop.set()

    result = run_scenario(holiday.with_options(step_s=1.0), tmp_path / "stopped", progress=progress, stop=stop)
    assert result.status == "interrupted"
    meta = read_meta(result.out_dir)
    assert meta["status"] == "interrupted" and 300 < meta["steps_recorded"] < 2000
    assert read_timeseries(result.out_dir).num_rows == meta["steps_recorded"]
    assert (result.out_dir / "report.md").exists()


def test_sigint_on_the_cli_finishes_the_folder(tmp_path):
    out = tmp_path / "ctrl-c"
    process = subprocess.Popen([sys.executable, "-m", "twin", "run", str(HOLIDAY), "--out", str(out), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "run.json").exists():
        time.sleep(0.1)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert read_meta(out)["status"] == "interrupted"
    assert (out / "kpi.json").exists()


def test_a_device_point_sensor_and_each_arrays_limit_are_columns(holiday, tmp_path):
    from twin.config.sensors import SensorModel

    sensed = holiday.model_copy(update={"sensors": (SensorModel(point="pv_canopy.p_kw", bias=12.5),)})
    result = run_scenario(sensed.with_options(step_s=900.0, duration_s=24 * 3600.0), tmp_path / "run")
    ts = read_timeseries(result.out_dir)
    truth = ts.column("pv_p_kw.pv_canopy").to_numpy()
    assert truth.max() > 0
    assert list(ts.column("measured.pv_canopy.p_kw").to_numpy()) == list(truth + 12.5)
    assert {"pv_limit_pct.pv_canopy", "pv_limit_pct.pv_roof"} <= set(ts.column_names)
    assert (result.out_dir / "report.md").exists() and read_meta(result.out_dir)["status"] == "completed"

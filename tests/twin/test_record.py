"""Recording: a finished run's folder, a killed run's readable Parquet, an interrupted run's status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.conftest import HOLIDAY, run_twin
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
    stderr_path = tmp_path / "stderr.txt"  # a file, not a pipe: nobody reads it while the run goes
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "twin", "run", str(HOLIDAY), "--step", "1s", "--duration",
                                    "24h", "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 120
            while (time.monotonic() < deadline and process.poll() is None
                   and len(list((out / "timeseries").glob("part-*.parquet"))) < 2):
                time.sleep(0.2)
        finally:
            ended_early = process.poll()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    said = stderr_path.read_text()[-2000:]
    assert ended_early is None, f"the run ended by itself ({ended_early}) before it was killed: {said}"
    assert (out / "run.json").exists(), f"no run.json within 120 s; the run said: {said}"
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


def test_the_recording_is_compact_and_keeps_what_kpis_and_replay_read(holiday, tmp_path):
    import pyarrow.parquet as pq

    scenario = holiday.with_options(step_s=30.0, duration_s=6 * 3600.0)
    result = run_scenario(scenario, tmp_path / "run")
    _, snaps = run_twin(scenario)  # the same seed: the same steps, to compare the columns with
    ts = read_timeseries(result.out_dir)
    part = sorted((result.out_dir / "timeseries").glob("part-*.parquet"))[0]
    meta = pq.ParquetFile(part).metadata.row_group(0)
    assert {meta.column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
    # site figures and totals are float64 and read back exactly as the run computed them
    for name in ("grid_p_kw", "bess_p_kw", "ev_p_kw", "load_p_kw", "losses_kw", "delivered_kwh", "t_s"):
        assert ts.schema.field(name).type == "double"
        assert np.array_equal(ts.column(name).to_numpy(), [getattr(s, name) for s in snaps]), name
    assert np.array_equal(ts.column("pv_p_kw.pv_canopy").to_numpy(), [s.pv_p_kw[0] for s in snaps])
    # network results and connector arrays are float32: equal to the run's values at that resolution
    assert ts.schema.field("v_pu.lv_car").type == "float"
    v = np.column_stack([ts.column(n).to_numpy() for n in ts.column_names if n.startswith("v_pu.")])
    assert np.array_equal(v, np.array([s.v_pu for s in snaps]).astype(np.float32))
    charger = np.column_stack([ts.column(n).to_numpy() for n in ts.column_names if n.startswith("charger_p_kw.")])
    np.testing.assert_allclose(charger, [s.charger_p_kw for s in snaps], rtol=1e-7, atol=1e-4)
    # the energy balance closes on what was recorded, as it does in the run
    supply = ts.column("grid_p_kw").to_numpy() + ts.column("bess_p_kw").to_numpy() + sum(
        ts.column(n).to_numpy() for n in ts.column_names if n.startswith("pv_p_kw."))
    feeder_loss = ts.column("slack_p_kw").to_numpy() - ts.column("grid_p_kw").to_numpy()
    demand = (ts.column("load_p_kw").to_numpy() + ts.column("ev_p_kw").to_numpy()
              + ts.column("losses_kw").to_numpy() - feeder_loss)
    np.testing.assert_allclose(supply, demand, atol=1e-3)


def test_the_speed_doc_lists_the_float32_fields_of_the_recorder():
    from tests.conftest import ROOT
    from twin.run.recorder import FLOAT32_FIELDS

    text = (ROOT / "docs" / "speed.md").read_text()
    listed = text.split("<!-- float32-fields -->")[1].split("<!-- /float32-fields -->")[0]
    assert {name.strip(" `\n") for name in listed.split(",")} == FLOAT32_FIELDS

"""Sweeps on a real Dask LocalCluster (2 worker processes on 127.0.0.1) and through `dask scheduler`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import SCENARIOS
from twin.app.sweep.execute import execute
from twin.app.sweep.expand import expand
from twin.app.sweep.study import run_points, schema_for
from twin.app.sweep.table import RowWriter, read_rows
from twin.config.sweep import load_sweep

PASSENGER = (SCENARIOS / "holiday-peak-xianshan.toml").as_posix()
YEAR = (SCENARIOS / "year-xianshan.toml").as_posix()
VOLATILE = ("wall_s",)  # the only column that may differ between executions


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      memory_limit="1GiB") as cluster, Client(cluster) as c:
        yield c


def write_sweep(tmp_path: Path, body: str, scenario: str = PASSENGER, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'name = "t"\nscenarios = ["{scenario}"]\n' + body)
    return path


def comparable(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in VOLATILE if c in table.column_names])


@pytest.mark.timeout(2400)  # 68 s with 40 min runs at load ~5, 533 s with 1 h runs at load ~12 (2026-12-01)
def test_two_workers_give_the_serial_table(tmp_path, client):
    """200 runs of 40 min at 1 min steps: the cluster's table equals the serial one, cell for cell."""
    sweep = load_sweep(write_sweep(tmp_path, 'seeds = 25\nseed = 7\n[set]\nstep = "1min"\nduration = "40min"\n'
                                             'start = 2027-02-13T17:00:00+08:00\n'
                                             '[parameters]\nbess.e_kwh = [500, 2150]\n'
                                             'traffic.multiplier.car = [2, 3, 4, 5]\n'))
    tasks = expand(sweep)
    assert len(tasks) == 200
    on_cluster = run_points(tasks, tmp_path / "cluster", client)
    serial = run_points(tasks, tmp_path / "serial", None)
    assert on_cluster.tally.done == 200 and on_cluster.tally.failed == 0
    assert comparable(on_cluster.table).equals(comparable(serial.table))
    imported = on_cluster.table.column("energy_imported_kwh").to_pylist()
    assert len(set(imported)) > 150  # seeds and points really differ (not 200 copies of one run)


def test_a_run_that_raises_is_recorded_and_the_rest_complete(tmp_path, client):
    sweep = load_sweep(write_sweep(tmp_path, 'seeds = 4\n[set]\nstep = "5min"\nduration = "2h"\n'))
    tasks = expand(sweep)
    gone = tmp_path / "copy.toml"
    gone.write_text(Path(PASSENGER).read_text().replace('"sites/', f'"{SCENARIOS.as_posix()}/sites/'))
    broken = expand(load_sweep(write_sweep(tmp_path, "seeds = 1\n", gone.as_posix(), "b.toml")))
    gone.unlink()  # a worker that cannot read the file: the run raises inside the worker
    schema = schema_for(tasks)
    tally = execute(tasks + broken, RowWriter(tmp_path / "out", schema), client)
    rows = read_rows(tmp_path / "out", schema).to_pylist()
    assert tally.done == 5 and tally.failed == 1 and len(rows) == 5
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "ScenarioError" in failed[0]["error"] and "file not found" in failed[0]["error"]
    assert all(r["peak_grid_import_kw"] > 0 for r in rows if r["status"] == "completed")


def test_a_year_run_with_its_baseline_inside_a_worker(tmp_path, client):
    """The comparison's baseline runs in a process pool, except inside a (daemonic) Dask worker."""
    sweep = load_sweep(write_sweep(tmp_path, 'seeds = 2\n[set]\nduration = "3d"\n', YEAR))
    tasks = expand(sweep, run_root=tmp_path / "runs-data")
    batch = run_points(tasks, tmp_path / "out", client)
    assert [r["status"] for r in batch.table.to_pylist()] == ["completed", "completed"]
    for task in tasks:
        assert (Path(task.run_dir) / "baseline" / "kpi.json").exists()
        assert (Path(task.run_dir) / "report.md").exists()


def satwin_sweep(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twin", "sweep", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs)


def test_resume_after_killing_the_sweep_midway(tmp_path):
    # every finished run is written at once (--rows-per-file 1), so the kill lands as soon as the first
    # is, with the other runs (of two days each) still to do, whatever the machine's speed: with the
    # default batch the first file came after 5 s, and a fast machine had finished all 30 by then
    path = write_sweep(tmp_path, 'seeds = 15\n[set]\nstep = "1min"\nduration = "2d"\n[parameters]\nbess.e_kwh = [1000, 2000]\n')
    out = tmp_path / "out"
    first = satwin_sweep(str(path), "--out", str(out), "--workers", "2", "--rows-per-file", "1", "-q")
    try:
        deadline = time.monotonic() + 240
        while not list((out / "runs").rglob("*.parquet")) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
        assert first.poll() is None, first.communicate()  # still running: killed midway
        os.killpg(first.pid, signal.SIGKILL)  # the CLI and its LocalCluster, without a chance to clean up
    finally:
        first.wait(30)
    kept = read_rows(out).num_rows
    assert 0 < kept < 30
    again = satwin_sweep(str(path), "--out", str(out), "--workers", "2", "-q")
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert f"{30 - kept} runs done, 0 failed, {kept} already in" in stdout
    table = read_rows(out)
    assert table.num_rows == 30 and len(set(table.column("key").to_pylist())) == 30


def test_find_min_on_the_cluster(tmp_path, client):
    """Smallest contract that an uncontrolled site never exceeds = the largest peak over the seeds."""
    from twin.app.sweep.study import SweepStudy

    sweep = load_sweep(write_sweep(tmp_path, 'seeds = 6\n[set]\nstep = "5min"\nduration = "6h"\ncontroller = "none"\n'
                                             '[parameters]\nutility.contract_limit_kw = {from = 500, to = 4000, step = 100}\n'))
    study = SweepStudy(sweep, tmp_path / "out")
    study.prepare("utility.contract_limit_kw")
    from twin.config.sweep import parse_stat_criterion

    study.find_min("utility.contract_limit_kw", parse_stat_criterion("fail_rate(minutes_over_contract <= 0) <= 0"), client)
    study.finish(0.0)
    peak = max(study.table.column("peak_grid_import_kw").to_pylist())
    assert study.bisection.answer == min(v for v in range(500, 4001, 100) if v >= peak)
    assert len(study.bisection.tried) <= 8 and (tmp_path / "out" / "summary.md").exists()
    assert list((tmp_path / "out").glob("curve-1-*.png"))


def test_sweep_and_suite_through_dask_scheduler_and_worker_processes(tmp_path):
    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(scheduler_file), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--host", "127.0.0.1",
                                       "--nworkers", "2", "--nthreads", "1", "--memory-limit", "1GiB", *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        path = write_sweep(tmp_path, 'seeds = 4\ncriteria = ["p95(peak_15min_demand_kw) <= 100000"]\n'
                                     '[set]\nstep = "5min"\nduration = "2h"\n[parameters]\nbess.e_kwh = [1000, 2000]\n')
        run = satwin_sweep(str(path), "--scheduler", address, "--out", str(tmp_path / "out"))
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert f"2 workers at {address}" in stderr and "8 runs done, 0 failed" in stdout
        assert read_rows(tmp_path / "out").num_rows == 8
        summary = (tmp_path / "out" / "summary.md").read_text()
        assert "2 of 2 points pass every criterion" in summary
        suite = subprocess.run([sys.executable, "-m", "twin", "test", str(SCENARIOS / "weekday-baseline.toml"),
                                "--step", "15min", "--scheduler", address, "--out", str(tmp_path / "suite")],
                               capture_output=True, text=True, timeout=300)
        assert suite.returncode in (0, 1) and "of 1 scenarios passed" in suite.stdout, suite.stderr
        assert (tmp_path / "suite" / "weekday-baseline" / "kpi.json").exists()
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

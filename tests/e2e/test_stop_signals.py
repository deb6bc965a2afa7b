"""Every way a run ends, per command: SIGTERM and SIGINT finish the folder as ``interrupted``,
a second signal exits at once, SIGKILL leaves a folder ``satwin finish`` completes, and no
child process outlives ``satwin test``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HOLIDAY

STARTUP_S = 240.0  # a bound for imports and the first chunk on a loaded 2-core machine
EXIT_S = 120.0
REASON = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twin", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def meta(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def wait_for(condition, what: str, timeout_s: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def recording(out: Path) -> bool:
    """The run has recorded a first chunk (so there is something to finish)."""
    return (out / "run.json").exists() and meta(out).get("steps_recorded", 0) > 0 and any(out.glob("timeseries/*.parquet"))


def long_run(out: Path) -> subprocess.Popen:
    # a week at 1 s: far longer than any test waits, so only the signal can end it
    return start("run", str(HOLIDAY), "--duration", "7d", "--step", "1s", "--out", str(out), "--quiet")


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def descendants_of(pid: int) -> list[int]:
    found = children_of(pid)
    return found + [d for child in found for d in descendants_of(child)]


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stopped_by_a_signal_finishes_its_folder(tmp_path, signum):
    out = tmp_path / "run"
    process = long_run(out)
    wait_for(lambda: recording(out), "the first chunk")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=EXIT_S)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    finished = meta(out)
    assert finished["status"] == "interrupted"
    assert finished["reason"] == {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}[signum]
    assert finished["steps"] > 0 and finished["steps"] == finished["steps_recorded"]
    assert json.loads((out / "kpi.json").read_text())["steps"] == finished["steps"]
    assert (out / "report.md").exists()


def test_a_second_signal_exits_at_once_and_finish_completes_the_folder(tmp_path):
    out = tmp_path / "run"
    process = long_run(out)
    wait_for(lambda: recording(out), "the first chunk")
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=EXIT_S)
    assert process.returncode in (130, 128 + signal.SIGTERM)  # the second may land after the first finished
    if meta(out)["status"] == "running":
        _finish_and_check(out)


def test_satwin_finish_completes_a_sigkilled_folder_and_is_idempotent(tmp_path):
    out = tmp_path / "run"
    process = long_run(out)
    wait_for(lambda: recording(out), "the first chunk")
    process.kill()
    process.wait(timeout=EXIT_S)
    assert meta(out)["status"] == "running"
    first = _finish_and_check(out)
    again = subprocess.run([sys.executable, "-m", "twin", "finish", str(out)], capture_output=True, text=True,
                           timeout=EXIT_S)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "kpi.json").read_text()) == first  # the same figures the second time


def _finish_and_check(out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "twin", "finish", str(out)], capture_output=True, text=True,
                          timeout=EXIT_S)
    assert done.returncode == 0, done.stderr
    finished = meta(out)
    assert finished["status"] == "recovered" and finished["steps"] > 0
    kpis = json.loads((out / "kpi.json").read_text())
    assert kpis["steps"] == finished["steps"]
    assert not list(out.glob("**/*.tmp"))
    return kpis


def test_serve_stopped_by_sigterm_finishes_its_folder(tmp_path):
    out = tmp_path / "serve"
    process = start("serve", str(HOLIDAY), "--port", "0", "--speed", "50", "--out", str(out))
    wait_for(lambda: (out / "run.json").exists(), "the served run")
    wait_for(lambda: meta(out).get("steps_recorded", 0) > 0 or any(out.glob("timeseries/*.parquet")),
             "a recorded chunk")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=EXIT_S)
    assert process.returncode == 130, stderr
    finished = meta(out)
    assert finished["status"] == "interrupted" and finished["reason"] == "SIGTERM"
    assert finished["steps"] > 0 and finished["wall_s"] > 0
    assert "interrupted:" in stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_suite_stopped_by_a_signal_writes_its_summary_and_leaves_no_worker(tmp_path, signum):
    out, junit = tmp_path / "suite", tmp_path / "junit.xml"
    scenarios = [str(p) for p in sorted(HOLIDAY.parent.glob("*.toml")) if "criteria" in p.read_text()][:4]
    process = start("test", *scenarios, "--jobs", "2", "--out", str(out), "--junit", str(junit))
    wait_for(lambda: len(children_of(process.pid)) >= 2 and any(out.glob("*/timeseries/*.parquet")),
             "two workers recording")
    workers = children_of(process.pid)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=EXIT_S)
    assert process.returncode == 130, stderr
    assert (out / "summary.md").exists() and junit.exists()
    assert f"suite stopped ({REASON[signum]})" in stderr
    started = [json.loads(p.read_text()) for p in out.glob("*/run.json")]
    statuses = [m["status"] for m in started]
    assert "interrupted" in statuses and set(statuses) <= {"interrupted", "completed"}, statuses  # none "running"
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to exit", timeout_s=EXIT_S)


HEARTBEATS = """import sys, time
from pymodbus.client import ModbusTcpClient
client = ModbusTcpClient(sys.argv[1], port=int(sys.argv[2]), timeout=2, retries=0)
while True:  # only a heartbeat (so a paced clock): it starts in a moment, unlike a whole EMS
    if client.connected or client.connect():
        client.write_register(int(sys.argv[3]), int(time.monotonic()) % 65536, device_id=1)
    time.sleep(0.2)
"""


def wrote(out: Path) -> bool:
    return any(path.stat().st_size > 0 for path in out.glob("*/modbus_audit.jsonl"))


def test_acceptance_stopped_by_sigterm_finishes_its_folder_and_stops_the_controller(tmp_path):
    """``satwin test --controller-cmd``: the controller under test is a child; it goes with the run."""
    from hil.maps.site_map import register_map_of
    from twin.config.scenario import load_scenario

    out, script = tmp_path / "suite", tmp_path / "heartbeats.py"
    script.write_text(HEARTBEATS)
    heartbeat = register_map_of(load_scenario(HOLIDAY)).point("site", "heartbeat").address
    controller = f"{sys.executable} {script} {{host}} {{port}} {heartbeat}"
    process = start("test", str(HOLIDAY), "--controller-cmd", controller, "--clock", "paced", "--out", str(out))
    wait_for(lambda: children_of(process.pid) and wrote(out), "the controller's first write")
    controllers = descendants_of(process.pid)  # the shell and the controller it started
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=EXIT_S)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    (run,) = [json.loads(p.read_text()) for p in out.glob("*/run.json")]
    assert run["status"] == "interrupted" and run["steps"] > 0
    assert (out / "summary.md").exists()
    wait_for(lambda: not any(alive(pid) for pid in controllers), "the controller to exit", timeout_s=EXIT_S)


# 24 runs of two days each, written one by one (``--rows-per-file 1``): the signal lands after the
# first row with 23 runs of work still to do on one worker
SWEEP = """name = "stopped"
scenarios = ["{scenario}"]
seeds = 12
seed = 7
[set]
step = "1min"
duration = "2d"
[parameters]
bess.e_kwh = [1000, 2150]
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sweep_stopped_by_a_signal_keeps_its_rows_stops_dask_and_resumes(tmp_path, signum):
    from twin.app.sweep.table import read_rows

    sweep_file, out = tmp_path / "sweep.toml", tmp_path / "sweep"
    sweep_file.write_text(SWEEP.format(scenario=(HOLIDAY.parent / "holiday-peak-xianshan.toml").as_posix()))
    # each finished run written at once: the signal lands right after the first, most still to run
    command = ("sweep", str(sweep_file), "--workers", "1", "--out", str(out), "--rows-per-file", "1", "--quiet")
    process = start(*command)
    wait_for(lambda: children_of(process.pid) and any((out / "runs").rglob("*.parquet")), "a first batch of rows")
    workers = children_of(process.pid)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=EXIT_S)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and f"sweep stopped ({REASON[signum]})" in stderr
    kept = read_rows(out).num_rows
    assert 0 < kept < 24 and not (out / "summary.md").exists()
    assert not list(out.rglob(".*.tmp"))  # no half-written batch
    wait_for(lambda: not any(alive(pid) for pid in workers), "the Dask workers to exit", timeout_s=EXIT_S)
    if signum == signal.SIGTERM:  # the same command again runs only what is missing
        again = subprocess.run([sys.executable, "-m", "twin", *command], capture_output=True, text=True,
                               timeout=STARTUP_S + EXIT_S)
        assert again.returncode in (0, 1), again.stderr  # 1: a criterion failed; the sweep itself completed
        assert f"{24 - kept} runs done, 0 failed, {kept} already in" in " ".join(again.stdout.split())
        assert read_rows(out).num_rows == 24 and (out / "summary.md").exists()

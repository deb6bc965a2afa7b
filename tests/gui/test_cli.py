"""``satwin gui`` as a user runs it: subprocesses, checked exit codes (PySide6 6.12 aborted at exit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import HOLIDAY

ROOT = Path(__file__).resolve().parents[2]


def satwin_gui(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gui", *args], capture_output=True, text=True, env=env,
                          timeout=240, cwd=ROOT)


def test_live_screenshot_runs_renders_and_exits_zero(tmp_path):
    out, png = tmp_path / "live", tmp_path / "live.png"
    done = satwin_gui(str(HOLIDAY), "--duration", "5min", "--speed", "3600", "--out", str(out),
                      "--screenshot", str(png))
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 10_000
    assert json.loads((out / "run.json").read_text())["status"] in ("completed", "interrupted")


def test_replay_screenshot_exits_zero(recorded_fault_run, tmp_path):
    png = tmp_path / "replay.png"
    done = satwin_gui(str(recorded_fault_run), "--screenshot", str(png))
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 10_000


def test_user_mistakes_exit_two_without_a_traceback(tmp_path):
    done = satwin_gui(str(tmp_path))  # a folder without run.json
    assert done.returncode == 2 and "Traceback" not in done.stderr and "run.json" in done.stderr
    done = satwin_gui(str(tmp_path / "missing.toml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_sigterm_closes_a_live_run_like_its_close_button(tmp_path):
    import signal
    import time

    out = tmp_path / "live"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-m", "gui", str(HOLIDAY), "--duration", "7d", "--speed", "3600",
                                "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=ROOT)
    deadline = time.monotonic() + 240
    while not any(out.glob("timeseries/*.parquet")):  # the live run is recording
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.poll() else ""
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["steps"] > 0

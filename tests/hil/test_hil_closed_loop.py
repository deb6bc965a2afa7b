"""Closed loop: `serve` at high speed + the external controller, over loopback Modbus only,
keeps the holiday evening peak inside the contract where the uncontrolled site is not."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from hil_rig import DATA

from hil.clients.reference_ems import run_controller
from hil.serve import AUDIT_FILE
from twin.config.scenario import load_scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.results.reader import read_timeseries
from twin.run.loop import builtin_control, run_loop
from twin.run.recorder import Recorder

SCENARIO = DATA / "evening-peak.toml"
DEMAND_WINDOW_S = 900  # contract demand is billed on 15-minute means
CLI = "import typer; from hil.cli import register; app = typer.Typer(); register(app); app()"


def demand_kw(results_dir) -> tuple[float, float]:
    """(largest 15-minute mean import, share of steps above the contract)."""
    table = read_timeseries(results_dir)
    grid_kw, t_s = table["grid_p_kw"].to_numpy(), table["t_s"].to_numpy()
    window = int(DEMAND_WINDOW_S / (t_s[1] - t_s[0]))
    means = np.convolve(grid_kw, np.ones(window) / window, mode="valid")
    return float(means.max()), float((grid_kw > table["contract_limit_kw"].to_numpy()).mean())


def test_external_controller_keeps_import_under_the_contract(tmp_path):
    scenario = load_scenario(SCENARIO)
    contract_kw = scenario.site.utility.contract_limit_kw

    uncontrolled = tmp_path / "none"
    twin = Twin(scenario)
    recorder = Recorder(uncontrolled, twin, {"controller": "none"})
    run_loop(twin, builtin_control(make_controller("none", twin.site_info)), [recorder])
    recorder.close()
    none_mean_kw, none_share = demand_kw(uncontrolled)
    assert none_mean_kw > contract_kw and none_share > 0.2

    served = tmp_path / "served"
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", str(SCENARIO), "--port", "0", "--clock", "lockstep", "--out", str(served)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = server.stdout.readline()
        port = int(first_line.split("tcp://127.0.0.1:")[1].split()[0])
        outcome = {}
        controller = threading.Thread(target=lambda: outcome.update(result=run_controller("127.0.0.1", port,
                                                                                          echo=lambda _: None)))
        controller.start()
        stdout, stderr = server.communicate(timeout=120)
        controller.join(30)
    finally:
        server.kill()
    assert server.returncode == 0, stderr
    # lockstep with the site's own 10 s watchdog: the controller acts on every step, however busy the machine
    assert "completed" in stdout and "lockstep timeouts 0" in stdout
    assert outcome["result"].cycles >= scenario.n_steps - 1
    served_mean_kw, served_share = demand_kw(served)
    assert served_mean_kw < contract_kw
    assert served_share < 0.05
    assert (served / AUDIT_FILE).stat().st_size > 0


def test_ctrl_c_stops_serving_and_closes_the_results_folder(tmp_path):
    out = tmp_path / "interrupted"
    server = subprocess.Popen([sys.executable, "-c", CLI, "serve", str(SCENARIO), "--port", "0", "--speed", "10",
                               "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "tcp://127.0.0.1:" in server.stdout.readline()
        time.sleep(1.0)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        # through the same reader as the first line: communicate() would read the pipe beneath it and
        # lose what readline() had already buffered (the watchdog line comes in the same chunk)
        stdout, stderr = server.stdout.read(), server.stderr.read()
    finally:
        server.kill()
    assert server.returncode == 130, stderr  # interrupted, as `satwin run` (it used to exit 0)
    assert "Traceback" not in stderr
    assert stdout.startswith("watchdog: heartbeat timeout 10 s simulated (the site's)\ninterrupted")
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert read_timeseries(out).num_rows > 0

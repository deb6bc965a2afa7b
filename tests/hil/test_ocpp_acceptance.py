"""A CSMS under test as a separate process: ``run_with_csms`` and the CLI's ``--csms-cmd`` / ``--ocpp-csms``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from hil_rig import DATA

from hil.ocpp_acceptance import run_with_csms
from twin.app.suite import run_one
from twin.config.scenario import load_scenario
from twin.results.reader import read_events
from twin.run.session import run_scenario

EMS = f"{sys.executable} -m twin controller --host {{host}} --port {{port}}"
CSMS = f"{sys.executable} -m twin csms --port {{port}} --ev-cap-kw 2400"
CONTRACT = "grid_import_kw.max_15min <= 4000"


def short_peak(duration_s: float = 3600.0):
    return load_scenario(DATA / "evening-peak.toml").with_options(duration_s=duration_s).model_copy(
        update={"criteria": (CONTRACT,)})


def holiday_peak():
    """The holiday evening peak from 17:00 for 90 min: long enough for its queues to take the
    uncontrolled site's 15-minute demand over the 4000 kW contract."""
    return short_peak(5400.0)


def failed(result) -> list[str]:
    return [f"{v.criterion}: {v.measured}" for v in result.verdicts if not v.passed]


def contract(result):
    return next(v for v in result.verdicts if v.criterion == CONTRACT)


def test_ems_on_modbus_and_csms_on_ocpp_side_by_side(tmp_path):
    scenario = holiday_peak()
    uncontrolled = run_scenario(scenario, tmp_path / "none", controller="none", report=False)
    assert not contract(uncontrolled).passed and contract(uncontrolled).measured > 4000.0

    # the EMS in lockstep (the run's Modbus verdicts do not depend on the load); OCPP is judged in simulated time
    result = run_with_csms(scenario, tmp_path / "ok", CSMS, controller_cmd=EMS, clock="lockstep")
    assert result.status == "completed" and result.error is None, (result.error, failed(result))
    assert result.passed, failed(result)
    assert json.loads((tmp_path / "ok" / "run.json").read_text())["clock"] == "lockstep"
    assert contract(result).passed
    obeyed = [v for v in result.verdicts if v.criterion.startswith("charging profiles obeyed")]
    assert len(obeyed) == 1 and obeyed[0].measured <= 0.01
    stations = [v for v in result.verdicts if v.criterion.startswith("ocpp station")]
    assert len(stations) == 3 and all(v.measured > 0 for v in stations)
    # the battery was commanded over Modbus, the chargers over OCPP
    writes = [json.loads(line) for line in (tmp_path / "ok" / "modbus_audit.jsonl").read_text().splitlines()]
    assert any("bess.p_set_kw" in (w.get("points") or {}) and w["result"] == "ok" for w in writes)
    assert not any(k.startswith(("car_dc", "truck_dc", "mcs")) for w in writes for k in (w.get("points") or {}))
    assert "ChargingStationMaxProfile" in (tmp_path / "ok" / "ocpp_audit.jsonl").read_text()


def test_a_csms_that_exits_fails_clearly(tmp_path):
    result = run_with_csms(short_peak(), tmp_path / "bad", f"{sys.executable} -c 'import sys; sys.exit(4)'",
                           speed=360)
    assert not result.passed and "CSMS exited with code 4" in result.error
    assert any("CSMS healthy" in v.criterion and not v.passed for v in result.verdicts)


def test_satwin_test_passes_its_runner_options_to_the_csms_runner(tmp_path):
    """``satwin test --csms-cmd … --controller-cmd … --lockstep-timeout … --watchdog-timeout …``: the
    options reach the run (they were dropped, and the run had the defaults: 5 s and the site's)."""
    ocpp = {"csms_cmd": CSMS, "ocpp_url": None, "version": "2.0.1"}
    options = {"clock": "lockstep", "speed": None, "lockstep_timeout_s": 2.5, "watchdog_timeout_s": 45.0}
    outcome = run_one(DATA / "evening-peak.toml", tmp_path / "run", {"duration_s": 60.0}, EMS, ocpp, options)
    assert outcome.status == "completed" and outcome.error is None, (outcome.error, outcome.verdicts)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run["clock"], run["heartbeat_timeout_s"]) == ("lockstep", 45.0)
    assert any(v["criterion"] == "controller_kept_up: every lockstep step acknowledged within 2.5 s"
               for v in outcome.verdicts), [v["criterion"] for v in outcome.verdicts]
    assert any(v["criterion"].startswith("ocpp station") for v in outcome.verdicts)


def satwin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=120)


def test_cli_refuses_a_url_that_is_not_a_websocket():
    scenario = str(DATA / "evening-peak.toml")
    for args in (["serve", scenario, "--ocpp-csms", "http://127.0.0.1:9000"],
                 ["test", scenario, "--ocpp-csms", "127.0.0.1:9000"],
                 ["serve", scenario, "--ocpp-csms", "ws://127.0.0.1:9", "--ocpp-version", "2.1"]):
        done = satwin(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_the_csms_process_is_stopped_after_its_scenario(tmp_path):
    pid_file = tmp_path / "csms.pid"
    # a "CSMS" that listens on its port, writes its pid and would run for ever
    csms = (f"{sys.executable} -c \"import os, socket, time; s = socket.socket(); s.bind(('127.0.0.1', {{port}})); "
            f"s.listen(); open('{pid_file}', 'w').write(str(os.getpid())); time.sleep(3600)\"")
    run_with_csms(short_peak(60.0), tmp_path / "run", csms, speed=360)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    assert not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_satwin_test_against_a_csms_alone_takes_speed_and_refuses_lockstep_options(tmp_path):
    scenario = str(DATA / "evening-peak.toml")
    refused = satwin("test", scenario, "--csms-cmd", "true", "--clock", "lockstep", "--out", str(tmp_path / "a"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: ") and "--clock: applies only with --controller-cmd" in refused.stderr
    no_watchdog = satwin("test", scenario, "--csms-cmd", "true", "--watchdog-timeout", "30", "--out", str(tmp_path / "c"))
    assert no_watchdog.returncode == 2 and "--watchdog-timeout: applies only with --controller-cmd" in no_watchdog.stderr
    alone = satwin("test", scenario, "--speed", "600", "--out", str(tmp_path / "b"))
    assert alone.returncode == 2 and "--csms-cmd/--ocpp-csms" in alone.stderr, alone.stderr


def test_against_a_csms_alone_the_scenarios_controller_runs_the_site_and_no_modbus_controller_is_judged(tmp_path):
    """No site EMS under test: the scenario's own controller runs the battery and the site's EV
    cap (before, nobody did: the watchdog tripped the site into its safe state and the suite
    failed every CSMS on "controller healthy"); Modbus serves read-only."""
    result = run_with_csms(holiday_peak(), tmp_path / "run", CSMS)  # paced at the default speed
    assert result.status == "completed" and result.error is None, (result.error, failed(result))
    assert not any(v.criterion.startswith("controller healthy") for v in result.verdicts)
    assert result.passed, failed(result)
    assert contract(result).passed  # the reference EMS shaved the peak the uncontrolled site overruns
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run["site_controller"], run["read_only"]) == ("peak-shaving", True)
    details = read_events(tmp_path / "run").column("detail").to_pylist()
    assert "p_set_kw [kW] by controller" in details  # the battery's setpoints, from the built-in controller
    assert any("ChargingStationMaxProfile" in line for line in (tmp_path / "run" / "ocpp_audit.jsonl").open())

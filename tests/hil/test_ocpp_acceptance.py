"""A CSMS under test as a separate process: ``run_with_csms`` and the CLI's ``--csms-cmd`` / ``--ocpp-csms``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hil_rig import DATA

from hil.ocpp_acceptance import run_with_csms
from twin.config.scenario import load_scenario

EMS = f"{sys.executable} -m twin controller --host {{host}} --port {{port}}"
CSMS = f"{sys.executable} -m twin csms --port {{port}} --ev-cap-kw 2400"


def short_peak():
    return load_scenario(DATA / "evening-peak.toml").with_options(duration_s=3600.0).model_copy(
        update={"criteria": ("grid_import_kw.max_15min <= 4000",)})


# Known open (issue 12): with the reference EMS on Modbus beside the reference CSMS, "charging
# profiles obeyed" reported a worst excess of 42 kW over the OCPP limit (seen 2026-12-01 under
# load); not yet traced. Kept running so a fix shows up as XPASS.
@pytest.mark.xfail(reason="charging-profiles-obeyed verdict fails with EMS + CSMS side by side (open, issue 12)",
                   strict=False)
def test_ems_on_modbus_and_csms_on_ocpp_side_by_side(tmp_path):
    result = run_with_csms(short_peak(), tmp_path / "ok", CSMS, controller_cmd=EMS, speed=360)
    assert result.status == "completed" and result.error is None
    assert result.passed, result.verdicts
    stations = [v for v in result.verdicts if v.criterion.startswith("ocpp station")]
    assert len(stations) == 3 and all(v.measured > 0 for v in stations)
    events = (tmp_path / "ok" / "ocpp_audit.jsonl").read_text()
    assert "ChargingStationMaxProfile" in events  # the CSMS governed the stations


def test_a_csms_that_exits_fails_clearly(tmp_path):
    result = run_with_csms(short_peak(), tmp_path / "bad", f"{sys.executable} -c 'import sys; sys.exit(4)'",
                           speed=360)
    assert not result.passed and "CSMS exited with code 4" in result.error
    assert any("CSMS healthy" in v.criterion and not v.passed for v in result.verdicts)


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

"""Lockstep: the same seed and the same deterministic controller give the same recording and
verdicts, bit for bit, whatever else the machine is doing; a controller that stops
acknowledging fails ``controller_kept_up``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
from hil_rig import DATA, client_for

from hil.acceptance import run_with_external_controller
from hil.maps.registers import register_map_of
from twin.config.scenario import load_scenario
from twin.run.lockstep import LockstepClock

REFERENCE = f"{sys.executable} -m twin controller --host {{host}} --port {{port}}"
BUSY_S = 120  # the competing load ends by itself even if the test is killed


def _scenario():
    return load_scenario(DATA / "evening-peak.toml").with_options(duration_s=1800.0, step_s=5.0).model_copy(
        update={"criteria": ("grid_import_kw.max_15min <= 4000", "minutes_over_contract <= 5")})


def _recording(out: Path) -> dict[str, object]:
    """What must be identical between two runs: every recorded row and event, and the verdicts."""
    return {"timeseries": pq.read_table(out / "timeseries").sort_by("t_s").to_pylist(),
            "events": pq.read_table(out / "events").to_pylist(),
            "verdicts": json.loads((out / "verdicts.json").read_text())}


def test_lockstep_runs_are_bit_identical_even_under_a_competing_cpu_load(tmp_path):
    first = run_with_external_controller(_scenario(), tmp_path / "quiet", REFERENCE, clock="lockstep")
    busy = subprocess.Popen([sys.executable, "-c", f"import time\nt = time.time()\nwhile time.time() - t < {BUSY_S}: "
                             "pass"])
    try:
        second = run_with_external_controller(_scenario(), tmp_path / "loaded", REFERENCE, clock="lockstep")
    finally:
        busy.kill()
        busy.wait()
    assert first.status == second.status == "completed"
    quiet, loaded = _recording(tmp_path / "quiet"), _recording(tmp_path / "loaded")
    assert quiet["timeseries"] == loaded["timeseries"]
    assert quiet["events"] == loaded["events"]
    assert quiet["verdicts"] == loaded["verdicts"]
    kept_up = next(v for v in quiet["verdicts"] if v["criterion"].startswith("controller_kept_up"))
    assert kept_up["passed"] and kept_up["measured"] == 0
    setpoints = [e for e in quiet["events"] if e["kind"] == "setpoint" and "by modbus" in e["detail"]]
    assert setpoints, "the controller acted"
    assert (tmp_path / "quiet" / "controller.log").exists()


def test_a_step_not_acknowledged_is_released_by_the_timeout():
    stop = threading.Event()
    late: list[int] = []
    clock = LockstepClock(timeout_s=0.05, first_timeout_s=0.05, on_timeout=lambda step, _s: late.append(step),
                          stop=stop)
    clock.start()
    acker = threading.Timer(0.01, clock.acknowledge, args=(1,))
    acker.start()
    clock.wait_until(5.0)  # step 1: acknowledged from another thread
    acker.join()
    clock.wait_until(10.0)  # step 2: nobody answers
    clock.acknowledge(3)  # an acknowledgement ahead of time releases step 3 at once
    clock.wait_until(15.0)
    assert late == [2] and clock.timeouts == 1 and clock.consecutive_timeouts == 0


def test_lockstep_serve_waits_for_the_ack_and_records_timeouts(tmp_path):
    """Over a real socket: step/step_ack points, and a controller that stops acknowledging."""
    from hil.serve import ServeOptions, serve

    scenario = load_scenario(DATA / "evening-peak.toml").with_options(duration_s=60.0, step_s=5.0)
    ports: list[int] = []
    listening = threading.Event()

    def on_listening(port: int) -> None:
        ports.append(port)
        listening.set()

    def controller() -> None:
        listening.wait(10)
        reg_map = register_map_of(scenario)
        step_point, ack_point = reg_map.point("site", "step"), reg_map.point("site", "step_ack")
        with client_for(ports[0]) as client:
            for _ in range(400):  # bounded: acknowledges steps 1..5, then goes quiet
                words = client.read_holding_registers(step_point.address, count=2, device_id=1).registers
                step = words[0] << 16 | words[1]
                if step >= 6:
                    return
                if step:
                    client.write_registers(ack_point.address, [step >> 16, step & 0xFFFF], device_id=1)
                time.sleep(0.005)

    worker = threading.Thread(target=controller)
    worker.start()
    result = serve(scenario, tmp_path / "run", port=0, echo=lambda _text: None, on_listening=on_listening,
                   options=ServeOptions(clock="lockstep", lockstep_timeout_s=0.05, first_step_timeout_s=10.0))
    worker.join(10)
    verdict = next(v for v in result.verdicts if v.criterion.startswith("controller_kept_up"))
    assert not verdict.passed and verdict.measured == 6  # steps 6..11 released by the timeout (12 is the last)
    assert verdict.windows[0] == (25.0, 30.0)
    events = pq.read_table(tmp_path / "run" / "events").to_pylist()
    assert sum(e["kind"] == "lockstep_timeout" for e in events) == 6
    saved = json.loads((tmp_path / "run" / "verdicts.json").read_text())
    assert any(v["criterion"].startswith("controller_kept_up") and not v["passed"] for v in saved)

"""A vendor's CSMS under test: the chargers on OCPP against ``--csms-cmd "…{port}…"`` or a running
``--ocpp-csms URL``, optionally with a site EMS on Modbus (``--controller-cmd``) beside it.

The CSMS command is started on a free loopback port and must listen within
``LISTEN_WALL_S``; it is stopped when the scenario ends. Its crash before the end, or a
CSMS that never listens, is a failed verdict with the reason, never a hang. The stations'
own health (boot, delivery) is in the run's verdicts (``hil.ocpp.stations``).
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from pathlib import Path

from hil.acceptance import DEFAULT_SPEED, HOST, _stop, run_with_external_controller
from hil.ocpp.stations import OcppOptions
from hil.serve import ServeOptions, serve
from twin.config.scenario import Scenario
from twin.results.verdicts import Verdict
from twin.run.loop import RunStats
from twin.run.session import RunResult

LISTEN_WALL_S = 30.0  # a Python CSMS imports slowly on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_listening(port: int, child: subprocess.Popen, timeout_s: float) -> str | None:
    """None once something accepts on ``port``; else why not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return f"CSMS exited with code {child.returncode} before listening"
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return None
        except OSError:
            time.sleep(0.1)
    return f"CSMS did not listen on {HOST}:{port} within {timeout_s:g} s"


def run_with_csms(scenario: Scenario, out_dir: Path, csms_cmd: str | None = None, ocpp_url: str | None = None,
                  controller_cmd: str | None = None, version: str = "2.0.1", sample_s: float = 60.0,
                  speed: float = DEFAULT_SPEED, echo=lambda _text: None) -> RunResult:
    """Serve ``scenario`` with its chargers on OCPP against the CSMS; verdicts include its health."""
    child = None
    problems: list[str] = []
    if csms_cmd:
        port = free_port()
        child = subprocess.Popen(shlex.split(csms_cmd.format(host=HOST, port=port)), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        ocpp_url = f"ws://{HOST}:{port}/ocpp"
        problem = wait_listening(port, child, LISTEN_WALL_S)
        if problem:
            _stop(child)
            verdict = Verdict(f"CSMS healthy: {problem}", float("nan"), False)
            return RunResult(Path(out_dir), "failed", RunStats(), {}, problem, verdicts=[verdict])
    ocpp = OcppOptions(ocpp_url, version, sample_s)
    try:
        if controller_cmd:
            result = run_with_external_controller(scenario, out_dir, controller_cmd, speed, echo, ocpp=ocpp)
        else:
            result = serve(scenario, out_dir, host=HOST, port=0, options=ServeOptions(speed=speed), echo=echo,
                           ocpp=ocpp)
        if child is not None and child.poll() is not None:
            tail = (child.stderr.read() or "").strip().splitlines()[-3:] if child.stderr else []
            problems.append(f"CSMS exited with code {child.returncode} before the scenario ended"
                            + (f": {' | '.join(tail)}" if tail else ""))
    finally:
        if child is not None:
            _stop(child)
    if problems:
        result.verdicts = list(result.verdicts) + [Verdict(f"CSMS healthy: {p}", float("nan"), False)
                                                   for p in problems]
        result.status = "failed"
        result.reason = "; ".join(problems)
    return result

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

from hil.acceptance import DEFAULT_CLOCK, DEFAULT_SPEED, HOST, START_TIMEOUT_S, _stop, run_with_external_controller
from hil.ocpp.stations import OcppOptions
from hil.serve import DEFAULT_LOCKSTEP_TIMEOUT_S, ServeOptions, serve
from twin.config.scenario import Scenario
from twin.results.verdicts import Verdict
from twin.run.loop import RunStats, Stop
from twin.run.session import RunResult

LISTEN_WALL_S = START_TIMEOUT_S  # as for a controller: a Python CSMS imports slowly on a busy machine


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
                  speed: float = DEFAULT_SPEED, clock: str = DEFAULT_CLOCK,
                  lockstep_timeout_s: float = DEFAULT_LOCKSTEP_TIMEOUT_S, watchdog_timeout_s: float | None = None,
                  echo=lambda _text: None, stop: Stop | None = None) -> RunResult:
    """Serve ``scenario`` with its chargers on OCPP against the CSMS; verdicts include its health.

    With a site EMS (``controller_cmd``) the twin runs on ``clock`` — lockstep by default, so the
    Modbus side's verdicts do not depend on the machine's load; OCPP has no lockstep, and the
    stations' messages and the CSMS's profiles take effect at whichever step they reach the twin
    (the OCPP verdicts are judged in simulated time). Without one it is paced at ``speed`` and
    the scenario's own controller runs the site (battery, site EV cap), as a site EMS would.
    ``stop``, and with a site EMS ``lockstep_timeout_s`` and ``watchdog_timeout_s``, are as for
    ``run_with_external_controller`` (``satwin test`` passes its runner options to both).
    """
    child = None
    problems: list[str] = []
    if csms_cmd:
        port = free_port()
        # its own session: ``_stop`` signals the process group, which without one did not exist and
        # left every CSMS running after its scenario
        child = subprocess.Popen(shlex.split(csms_cmd.format(host=HOST, port=port)), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
        ocpp_url = f"ws://{HOST}:{port}/ocpp"
        problem = wait_listening(port, child, LISTEN_WALL_S)
        if problem:
            _stop(child)
            verdict = Verdict(f"CSMS healthy: {problem}", float("nan"), False)
            return RunResult(Path(out_dir), "failed", RunStats(), {}, problem, verdicts=[verdict])
    ocpp = OcppOptions(ocpp_url, version, sample_s)
    try:
        if controller_cmd:
            result = run_with_external_controller(scenario, out_dir, controller_cmd, speed=speed, clock=clock,
                                                  lockstep_timeout_s=lockstep_timeout_s,
                                                  watchdog_timeout_s=watchdog_timeout_s, echo=echo, ocpp=ocpp,
                                                  stop=stop)
        else:
            options = ServeOptions(speed=speed)  # the site's controller is built in: no Modbus watchdog runs
            result = serve(scenario, out_dir, host=HOST, port=0, options=options, echo=echo, stop=stop, ocpp=ocpp,
                           site_controller=scenario.controller)
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

"""A vendor's controller under test: ``satwin test --controller-cmd "…{host} {port}…"``.

Each scenario is served over loopback Modbus while the vendor's command runs as a separate
process. The command is run by the shell (``/bin/sh -c``), so ``EMS_MODE=ci python ems.py``
and pipes work. Placeholders, each replaced shell-quoted: ``{host}``, ``{port}``,
``{scenario}`` (the scenario's name) and ``{out}`` (its results folder, absolute). The same
values are in the environment as ``SATWIN_HOST``, ``SATWIN_PORT``, ``SATWIN_SCENARIO`` and
``SATWIN_OUT``, beside everything ``satwin test`` itself was started with; the working
directory is the one ``satwin test`` was started in. The process's stdout and stderr go
to ``controller.log`` in the scenario's folder.

The process is stopped when the scenario ends. Its crash (exit before the end), its
silence (no accepted write within ``start_timeout_s`` wall seconds) or, under lockstep, its failing to
acknowledge ``LOCKSTEP_GIVE_UP`` steps in a row ends the run early with a failed health
verdict and the reason, never a hang.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from hil.datastore.bridge import Bridge
from hil.serve import DEFAULT_LOCKSTEP_TIMEOUT_S, ServeOptions, serve
from twin.config.scenario import Scenario
from twin.run.loop import Stop
from twin.run.session import RunResult

HOST = "127.0.0.1"
DEFAULT_SPEED = 360.0
DEFAULT_CLOCK = "lockstep"
START_TIMEOUT_S = 60.0  # wall s; a controller that has written nothing by then is silent (a busy CI
# machine can take 20 s just to start a Python process that imports pymodbus)
LOCKSTEP_GIVE_UP = 3  # steps in a row released by the timeout: the controller is gone
STOP_GRACE_S = 5.0
CONTROLLER_LOG = "controller.log"
PLACEHOLDERS = ("host", "port", "scenario", "out")


def controller_command(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``PLACEHOLDERS`` replaced, shell-quoted; other braces stay
    (``${HOME}`` and ``awk '{print}'`` mean what they mean to the shell)."""
    command = template
    for name in PLACEHOLDERS:
        command = command.replace("{" + name + "}", shlex.quote(values[name]))
    return command


def run_with_external_controller(scenario: Scenario, out_dir: Path, controller_cmd: str,
                                 speed: float = DEFAULT_SPEED, clock: str = DEFAULT_CLOCK,
                                 lockstep_timeout_s: float = DEFAULT_LOCKSTEP_TIMEOUT_S,
                                 watchdog_timeout_s: float | None = None, start_timeout_s: float = START_TIMEOUT_S,
                                 echo=lambda _text: None, ocpp=None, stop: Stop | None = None) -> RunResult:
    """Serve ``scenario`` and run ``controller_cmd`` against it; verdicts include the controller's health."""
    out_dir = Path(out_dir).resolve()
    bridge_box: list[Bridge] = []
    stop = stop if stop is not None else Stop()
    problems: list[str] = []  # for the health verdict; the first one is also why the run failed
    connected = threading.Event()
    process: list[subprocess.Popen] = []

    def on_listening(port: int) -> None:
        values = {"host": HOST, "port": str(port), "scenario": scenario.name, "out": str(out_dir)}
        env = {**os.environ, **{f"SATWIN_{name.upper()}": value for name, value in values.items()}}
        log = (out_dir / CONTROLLER_LOG).open("wb")
        process.append(subprocess.Popen(controller_command(controller_cmd, values), shell=True, env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()  # the child holds its own descriptor
        threading.Thread(target=watch, daemon=True).start()

    def fail(problem: str) -> None:
        problems.append(problem)
        stop.request(f"external controller: {problem}", failed=True)

    def watch() -> None:
        """Stop the run early when the controller crashes, stays silent or stops acknowledging steps."""
        started = time.monotonic()
        child, bridge = process[0], bridge_box[0]
        while not stop.is_set():
            if bridge.connections:
                connected.set()
            code = child.poll()
            if code is not None and bridge.sim_t_s < scenario.duration_s - scenario.step_s:
                tail = _tail(out_dir / CONTROLLER_LOG)
                fail(f"exited with code {code} at sim time {bridge.sim_t_s:g} s, before the scenario ended"
                     + (f": {' | '.join(tail)}" if tail else ""))
                return
            if code is not None:  # it stopped by itself once the scenario was over: that is fine
                return
            if bridge.accepted_writes == 0 and time.monotonic() - started > start_timeout_s:
                fail(f"wrote nothing within {start_timeout_s:g} s (silent)")
                return
            if bridge.health.consecutive_late >= LOCKSTEP_GIVE_UP:
                fail(f"stopped acknowledging steps ({LOCKSTEP_GIVE_UP} in a row timed out at sim time "
                     f"{bridge.sim_t_s:g} s)")
                return
            time.sleep(0.1)

    options = ServeOptions(speed=speed, clock=clock, lockstep_timeout_s=lockstep_timeout_s,
                           first_step_timeout_s=start_timeout_s, watchdog_timeout_s=watchdog_timeout_s)
    try:
        return serve(scenario, out_dir, host=HOST, port=0, options=options, echo=echo, stop=stop,
                     on_listening=on_listening, bridge_ready=bridge_box.append, start_gate=connected,
                     start_gate_timeout_s=start_timeout_s, problems=problems, ocpp=ocpp)
    finally:
        stop.set()
        for child in process:
            _stop(child)


def _tail(path: Path, lines: int = 3) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []


def _stop(child: subprocess.Popen) -> None:
    """Stop the shell and whatever it started (its own session, so one signal reaches them all)."""
    if child.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue

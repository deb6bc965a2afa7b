"""A vendor's controller under test: ``satwin test --controller-cmd "…{host} {port}…"``.

Each scenario is served over loopback Modbus at an accelerated speed while the vendor's
command runs as a separate process with ``{host}`` and ``{port}`` filled in. The process is
stopped when the scenario ends. Its crash (exit before the end) or its silence (no accepted
write within ``SILENCE_WALL_S``) is a failed verdict with a clear reason, never a hang: the
run is bounded by the scenario's length at the chosen speed.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from pathlib import Path

from hil.datastore.bridge import Bridge
from hil.serve import serve
from twin.config.scenario import Scenario
from twin.run.loop import Stop
from twin.run.session import RunResult

HOST = "127.0.0.1"
DEFAULT_SPEED = 360.0
SILENCE_WALL_S = 10.0  # a controller that has written nothing by then is silent
WATCHDOG_MIN_WALL_S = 2.0
STOP_GRACE_S = 5.0


def run_with_external_controller(scenario: Scenario, out_dir: Path, controller_cmd: str,
                                 speed: float = DEFAULT_SPEED, echo=lambda _text: None, ocpp=None,
                                 stop: Stop | None = None) -> RunResult:
    """Serve ``scenario`` and run ``controller_cmd`` against it; a crashed or silent controller fails the run."""
    listening = threading.Event()
    port_box: list[int] = []
    bridge_box: list[Bridge] = []
    stop = stop if stop is not None else Stop()
    connected = threading.Event()
    process: list[subprocess.Popen] = []

    def on_listening(port: int) -> None:
        port_box.append(port)
        listening.set()
        command = controller_cmd.format(host=HOST, port=port)
        process.append(subprocess.Popen(shlex.split(command), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True))
        threading.Thread(target=watch, daemon=True).start()

    def watch() -> None:
        """Stop the run early when the controller crashes or stays silent."""
        started = time.monotonic()
        child = process[0]
        bridge = bridge_box[0]
        while not stop.is_set():
            if bridge.connections:
                connected.set()
            code = child.poll()
            if code is not None and bridge.sim_t_s < scenario.duration_s - scenario.step_s:
                tail = (child.stderr.read() or "").strip().splitlines()[-3:] if child.stderr else []
                stop.request(f"external controller exited with code {code} before the scenario ended"
                             + (f": {' | '.join(tail)}" if tail else ""), failed=True)
                return
            if code is not None:  # it stopped by itself once the scenario was over: that is fine
                return
            if bridge.accepted_writes == 0 and time.monotonic() - started > SILENCE_WALL_S:
                stop.request(f"external controller wrote nothing within {SILENCE_WALL_S:g} s (silent)", failed=True)
                return
            time.sleep(0.1)

    try:
        return serve(scenario, out_dir, host=HOST, port=0, speed=speed, echo=echo, stop=stop,
                     on_listening=on_listening, bridge_ready=bridge_box.append,
                     watchdog_min_wall_s=WATCHDOG_MIN_WALL_S, start_gate=connected,
                     start_gate_timeout_s=SILENCE_WALL_S, ocpp=ocpp)
    finally:
        stop.set()
        for child in process:
            _stop(child)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=STOP_GRACE_S)

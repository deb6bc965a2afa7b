"""``satwin serve``: the twin paced to the wall clock, every device on Modbus TCP, recorded.

The run loop (main thread) steps the twin with ``WallClock(speed)``; setpoints come only
from Modbus writes (``Bridge`` is the setpoint source); the Modbus server runs in its own
thread. The results folder is the one ``satwin run`` writes (KPIs, verdicts, report), plus
``modbus_audit.jsonl`` and the step-lateness summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from hil.datastore.bridge import Bridge
from hil.maps.registers import build_register_map
from hil.servers.limits import ConnectionLimits
from hil.servers.modbus_tcp import ModbusServer
from twin.config.scenario import Scenario
from twin.model.core import Twin
from twin.run.loop import WallClock
from twin.run.session import RunResult, Session

AUDIT_FILE = "modbus_audit.jsonl"


def serve(scenario: Scenario, out_dir: Path, host: str = "127.0.0.1", port: int = 5020, speed: float = 1.0,
          read_only: bool = False, allow: set[str] | None = None, echo: Callable[[str], None] = print,
          stop: threading.Event | None = None, on_listening: Callable[[int], None] | None = None,
          bridge_ready: Callable[[Bridge], None] | None = None,
          watchdog_min_wall_s: float | None = None, start_gate: threading.Event | None = None,
          start_gate_timeout_s: float = 10.0, limits: ConnectionLimits = ConnectionLimits()) -> RunResult:
    """Serve ``scenario`` until its end, ``stop`` or Ctrl-C; the results folder is always finished.

    ``watchdog_min_wall_s``: at high speed the site's heartbeat timeout (simulated seconds)
    can be shorter than a controller's poll cycle in wall time; this keeps the timeout at
    least that many wall seconds (accelerated acceptance runs use 2 s). ``start_gate``: the
    clock starts when it is set (the controller under test has connected), or
    after ``start_gate_timeout_s``, so a slow-starting controller does not miss the start.
    """
    clock = WallClock(speed)
    twin = Twin(scenario)
    out_dir = Path(out_dir)
    bridge = Bridge(twin, build_register_map(twin), out_dir / AUDIT_FILE, read_only=read_only)
    if watchdog_min_wall_s is not None:
        bridge.heartbeat_timeout_s = max(bridge.heartbeat_timeout_s, watchdog_min_wall_s * speed)
    if bridge_ready is not None:
        bridge_ready(bridge)
    server = ModbusServer(bridge, host, port, allow, limits)
    port = server.start()  # before the results folder exists: a busy port leaves nothing behind
    def stop_serving() -> None:  # idempotent
        server.stop()
        bridge.close()

    try:
        meta = {"speed": speed, "read_only": read_only, "modbus": f"{host}:{port}",
                "heartbeat_timeout_s": bridge.heartbeat_timeout_s}
        with Session(twin, out_dir, "modbus", meta, stop=stop) as session:
            try:
                echo(f"serving {scenario.name} on modbus tcp://{host}:{port} at {speed:g}x "
                     f"({scenario.n_steps} steps of {scenario.step_s:g} s){' read-only' if read_only else ''}; "
                     f"recording to {out_dir}")
                if on_listening is not None:
                    on_listening(port)
                if start_gate is not None:
                    start_gate.wait(start_gate_timeout_s)
                session.run(bridge, [bridge], clock=clock, record_lateness=True)
            finally:
                stop_serving()  # before the folder is finished: no write lands after the last step
    finally:
        stop_serving()  # also when the folder could not be opened
    return session.result

"""``satwin serve``: the twin paced to the wall clock, every device on Modbus TCP, recorded.

The run loop (main thread) steps the twin with ``WallClock(speed)``; setpoints come only
from Modbus writes (``Bridge`` is the setpoint source); the Modbus server runs in its own
thread. The results folder is the one ``satwin run`` writes, plus ``modbus_audit.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from twin import __version__
from twin.core import Twin
from twin.record import Recorder
from twin.run import RunStats, WallClock, run_loop
from twin.scenario import Scenario

from hil.bridge import Bridge
from hil.registers import build_register_map
from hil.server import ModbusServer

AUDIT_FILE = "modbus_audit.jsonl"


@dataclass
class ServeResult:
    out_dir: Path
    status: str
    stats: RunStats
    lateness_ms: dict[str, float]


def serve(scenario: Scenario, out_dir: Path, host: str = "127.0.0.1", port: int = 5020, speed: float = 1.0,
          read_only: bool = False, allow: set[str] | None = None, echo: Callable[[str], None] = print,
          stop: threading.Event | None = None, on_listening: Callable[[int], None] | None = None) -> ServeResult:
    """Serve ``scenario`` until its end, ``stop`` or Ctrl-C; the results folder is always closed."""
    clock = WallClock(speed)
    twin = Twin(scenario)
    out_dir = Path(out_dir)
    bridge = Bridge(twin, build_register_map(twin), out_dir / AUDIT_FILE, read_only=read_only)
    server = ModbusServer(bridge, host, port, allow)
    port = server.start()  # before the results folder exists: a busy port leaves nothing behind
    meta = {"satwin_version": __version__, "scenario": scenario.name, "site": scenario.site.name,
            "controller": "modbus", "start": scenario.start.isoformat(), "step_s": scenario.step_s,
            "duration_s": scenario.duration_s, "seed": scenario.seed, "speed": speed, "read_only": read_only,
            "modbus": f"{host}:{port}", "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    recorder = Recorder(out_dir, twin, meta)
    echo(f"serving {scenario.name} on modbus tcp://{host}:{port} at {speed:g}x "
         f"({scenario.n_steps} steps of {scenario.step_s:g} s){' read-only' if read_only else ''}; "
         f"recording to {out_dir}")
    if on_listening is not None:
        on_listening(port)
    stats, status = RunStats(), "failed"  # until the loop returns
    try:
        stats = run_loop(twin, bridge, [bridge, recorder], clock=clock, stop=stop, record_lateness=True)
        status = "interrupted" if stats.interrupted else "completed"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        server.stop()
        bridge.close()
        lateness = stats.lateness_summary_ms(scenario.step_s / speed)
        recorder.close(status, wall_s=round(stats.wall_s, 3), steps=stats.steps, step_lateness_ms=lateness)
    return ServeResult(out_dir, status, stats, lateness)

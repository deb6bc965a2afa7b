"""``satwin serve``: the twin paced to the wall clock, every device on Modbus TCP, recorded.

The run loop (main thread) steps the twin with ``WallClock(speed)``; setpoints come only
from Modbus writes (``Bridge`` is the setpoint source); the Modbus server runs in its own
thread. The results folder is the one ``satwin run`` writes (KPIs, verdicts, report), plus
``modbus_audit.jsonl`` and the step-lateness summary.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from hil.datastore.bridge import Bridge
from hil.maps.registers import build_register_map
from hil.ocpp.stations import OcppOptions, OcppStations, chain, finish_ocpp
from hil.servers.limits import ConnectionLimits
from hil.servers.modbus_tcp import ModbusServer
from hil.servers.rtu import RtuLine, RtuServer, line_baud
from hil.servers.tls import TlsOptions
from hil.servers.units import BusTiming
from twin.config.scenario import Scenario
from twin.model.core import Twin
from twin.run.loop import Stop, WallClock
from twin.run.session import RunResult, Session

AUDIT_FILE = "modbus_audit.jsonl"


def serve(scenario: Scenario, out_dir: Path, host: str = "127.0.0.1", port: int = 5020, speed: float = 1.0,
          read_only: bool = False, allow: set[str] | None = None, echo: Callable[[str], None] = print,
          stop: threading.Event | None = None, on_listening: Callable[[int], None] | None = None,
          bridge_ready: Callable[[Bridge], None] | None = None,
          watchdog_min_wall_s: float | None = None, start_gate: threading.Event | None = None,
          start_gate_timeout_s: float = 10.0, rtu: RtuLine | None = None, rtu_over_tcp_port: int | None = None,
          bus_timing: bool = True, ocpp: OcppOptions | None = None,
          stations_ready: Callable[[OcppStations], None] | None = None,
          limits: ConnectionLimits = ConnectionLimits(), overrun: str = "warn",
          tls: TlsOptions | None = None) -> RunResult:
    """Serve ``scenario`` until its end, ``stop`` or Ctrl-C; the results folder is always finished.

    ``watchdog_min_wall_s``: at high speed the site's heartbeat timeout (simulated seconds)
    can be shorter than a controller's poll cycle in wall time; this keeps the timeout at
    least that many wall seconds (accelerated acceptance runs use 2 s). ``start_gate``: the
    clock starts when it is set (the controller under test has connected), or
    after ``start_gate_timeout_s``, so a slow-starting controller does not miss the start.
    ``rtu``: also serve the RTU units on this serial line; ``rtu_over_tcp_port``: and with RTU
    framing over TCP on this port (as a serial gateway does); ``bus_timing`` answers them no
    faster than a real line and product would (``hil.servers.rtu``). ``ocpp``: the chargers
    also connect to a CSMS as OCPP stations (``hil.ocpp``); their health joins the verdicts.
    ``limits``: the connection cap and idle timeout of the Modbus TCP server (``hil.servers.limits``).
    ``overrun``: what a step later than a whole wall-clock step does (``WallClock``: warn, slow or
    stop); the warning is printed at once, and ``stop`` fails the run with it. ``tls``: Modbus/TCP
    Security (client certificates, a role each; ``hil.servers.tls``) instead of plain Modbus TCP.
    """
    clock = WallClock(speed, overrun)
    twin = Twin(scenario)
    out_dir = Path(out_dir)
    bridge = Bridge(twin, build_register_map(twin), out_dir / AUDIT_FILE, read_only=read_only)
    if watchdog_min_wall_s is not None:
        bridge.heartbeat_timeout_s = max(bridge.heartbeat_timeout_s, watchdog_min_wall_s * speed)
    if bridge_ready is not None:
        bridge_ready(bridge)
    stations = OcppStations(twin, ocpp, out_dir) if ocpp is not None else None
    if stations is not None and stations_ready is not None:
        stations_ready(stations)
    server = ModbusServer(bridge, host, port, allow, limits=limits, tls=tls)
    port = server.start()  # before the results folder exists: a busy port leaves nothing behind
    try:
        extra = _extra_servers(bridge, host, allow, rtu, rtu_over_tcp_port, bus_timing)
    except Exception:
        server.stop()
        raise

    def stop_serving() -> None:  # idempotent
        for _, other in extra:
            other.stop()
        server.stop()
        bridge.close()
        if stations is not None:
            stations.close()

    try:
        scheme = "tcp" if tls is None else "tls"
        meta = {"speed": speed, "read_only": read_only, "modbus": f"{host}:{port}", "modbus_tls": tls is not None,
                "heartbeat_timeout_s": bridge.heartbeat_timeout_s}
        with Session(twin, out_dir, "modbus", meta, stop=stop) as session:
            clock.on_overrun = functools.partial(_overran, session.stop, overrun == "stop")
            try:
                lines = "".join(f", {label}" for label, _ in extra)
                echo(f"serving {scenario.name} on modbus {scheme}://{host}:{port}{lines} at {speed:g}x "
                     f"({scenario.n_steps} steps of {scenario.step_s:g} s){' read-only' if read_only else ''}; "
                     f"recording to {out_dir}")
                if on_listening is not None:
                    on_listening(port)
                if stations is not None:
                    echo(f"{len(stations.stations)} OCPP {ocpp.version} stations connecting to "
                         f"{ocpp.url}/<station id>")
                    stations.start()  # waits for their boots, bounded by ocpp.boot_wait_s
                if start_gate is not None:
                    start_gate.wait(start_gate_timeout_s)
                control, sinks = (bridge, [bridge]) if stations is None else (chain(bridge, stations),
                                                                               [bridge, stations])
                session.run(control, sinks, clock=clock, record_lateness=True)
            finally:
                stop_serving()  # before the folder is finished: no write lands after the last step
    finally:
        stop_serving()  # also when the folder could not be opened
    if stations is not None:
        finish_ocpp(stations, session.result)
    return session.result


def _overran(stop: threading.Event, fail: bool, message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
    if fail and isinstance(stop, Stop):
        stop.request(message, failed=True)
    elif fail:
        stop.set()


def _extra_servers(bridge: Bridge, host: str, allow: set[str] | None, rtu: RtuLine | None,
                   rtu_over_tcp_port: int | None, bus_timing: bool) -> list[tuple[str, ModbusServer]]:
    """The RTU line and the RTU-over-TCP listener asked for, started; (label, server) each."""
    started: list[tuple[str, ModbusServer]] = []
    try:
        if rtu is not None:
            line = RtuServer(bridge, rtu, timing=bus_timing)
            line.start()
            started.append((f"rtu {rtu.device} {line.timing.baud} baud {rtu.parity}", line))
        if rtu_over_tcp_port is not None:
            timing = BusTiming(line_baud(bridge, rtu.baud if rtu else None), rtu.parity if rtu else "N", bus_timing)
            gateway = ModbusServer(bridge, host, rtu_over_tcp_port, allow, rtu_timing=timing)
            started.append((f"rtu-over-tcp://{host}:{gateway.start()}", gateway))
    except Exception:
        for _, server in started:
            server.stop()
        raise
    return started

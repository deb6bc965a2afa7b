"""``satwin serve``: the twin paced to the wall clock (or in lockstep), every device on Modbus TCP, recorded.

The run loop (main thread) steps the twin with ``WallClock(speed)`` or, with
``clock="lockstep"``, a ``LockstepClock`` that waits after each step until a client
acknowledges it (``site.step_ack``); setpoints come only from Modbus writes (``Bridge`` is
the setpoint source); the Modbus server runs in its own thread. The results folder is the
one ``satwin run`` writes (KPIs, verdicts with the controller's health, report), plus
``modbus_audit.jsonl`` and the pacing summary.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hil.datastore.bridge import Bridge
from hil.maps.site_map import build_register_map
from hil.ocpp.stations import OcppOptions, OcppStations, chain, finish_ocpp
from hil.servers.limits import ConnectionLimits
from hil.servers.modbus_tcp import ModbusServer
from hil.servers.rtu import RtuLine, RtuServer, line_baud
from hil.servers.tls import TlsOptions
from hil.servers.units import BusTiming
from twin.config.scenario import Scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.run.lockstep import LockstepClock
from twin.run.loop import Stop, WallClock, builtin_control
from twin.run.session import RunResult, Session

AUDIT_FILE = "modbus_audit.jsonl"
CLOCKS = ("paced", "lockstep")
DEFAULT_LOCKSTEP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ServeOptions:
    """How a run is served: pacing, watchdog, who may write, what the audit keeps."""

    speed: float = 1.0
    clock: str = "paced"  # paced | lockstep
    lockstep_timeout_s: float = DEFAULT_LOCKSTEP_TIMEOUT_S
    first_step_timeout_s: float | None = None  # lockstep: wait for step 1 this long (None: until acknowledged)
    watchdog_timeout_s: float | None = None  # None: the site's [watchdog] heartbeat_timeout_s
    read_only: bool = False
    single_writer: bool = False
    audit_reads: bool = False
    audit_heartbeats: bool = False
    # paced: what a step later than a whole wall-clock step does (``WallClock``: warn, slow or stop);
    # the warning is printed at once, and ``stop`` fails the run with it
    overrun: str = "warn"


def serve(scenario: Scenario, out_dir: Path, host: str = "127.0.0.1", port: int = 5020,
          options: ServeOptions = ServeOptions(), allow: set[str] | None = None,
          echo: Callable[[str], None] = print, stop: threading.Event | None = None,
          on_listening: Callable[[int], None] | None = None, bridge_ready: Callable[[Bridge], None] | None = None,
          start_gate: threading.Event | None = None, start_gate_timeout_s: float = 10.0,
          problems: list[str] | None = None, rtu: RtuLine | None = None, rtu_over_tcp_port: int | None = None,
          bus_timing: bool = True, ocpp: OcppOptions | None = None,
          stations_ready: Callable[[OcppStations], None] | None = None,
          limits: ConnectionLimits = ConnectionLimits(), tls: TlsOptions | None = None,
          site_controller: str | None = None) -> RunResult:
    """Serve ``scenario`` until its end, ``stop`` or Ctrl-C; the results folder is always finished.

    ``start_gate`` (paced clock): the clock starts when it is set (the controller under test
    has connected), or after ``start_gate_timeout_s``, so a slow-starting controller does not
    miss the start. ``problems``: what a watcher found wrong with the controller's process,
    judged in the health verdicts (None: no process is watched). ``rtu``: also serve the RTU
    units on this serial line; ``rtu_over_tcp_port``: and with RTU framing over TCP on this
    port (as a serial gateway does); ``bus_timing`` answers them no faster than a real line and
    product would (``hil.servers.rtu``). ``ocpp``: the chargers also connect to a CSMS as OCPP
    stations (``hil.ocpp``); their health joins the verdicts. ``limits``: the connection cap and
    idle timeout of the Modbus TCP server (``hil.servers.limits``). ``tls``: Modbus/TCP Security
    (client certificates, a role each; ``hil.servers.tls``) instead of plain Modbus TCP.
    ``site_controller``: the site's setpoints come from this built-in controller, not from Modbus
    writes (a CSMS under test alone: a reference EMS runs the battery and the site's EV cap, as
    on a real site); the Modbus server then serves read-only and no Modbus controller's health
    is judged.
    """
    if site_controller is not None:
        options = replace(options, read_only=True)  # nobody may fight the site's controller
    twin = Twin(scenario)
    out_dir = Path(out_dir)
    bridge = Bridge(twin, build_register_map(twin.site), out_dir / AUDIT_FILE, read_only=options.read_only,
                    single_writer=options.single_writer, audit_reads=options.audit_reads,
                    audit_heartbeats=options.audit_heartbeats)
    if options.watchdog_timeout_s is not None:
        bridge.heartbeat_timeout_s = options.watchdog_timeout_s
    clock = _clock(options, twin, bridge, stop)
    if bridge_ready is not None:
        bridge_ready(bridge)
    stations = OcppStations(twin, ocpp, out_dir) if ocpp is not None else None
    if stations is not None and stations_ready is not None:
        stations_ready(stations)
    server = ModbusServer(bridge, host, port, allow, limits=limits, tls=tls)
    if isinstance(clock, WallClock):
        clock.yield_to = server.yield_to  # behind the wall clock, the server's answers come first
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
        meta = {"speed": options.speed, "clock": options.clock, "read_only": options.read_only,
                "site_controller": site_controller or "modbus",
                "modbus": f"{host}:{port}", "modbus_tls": tls is not None,
                "heartbeat_timeout_s": bridge.heartbeat_timeout_s}
        with Session(twin, out_dir, "modbus", meta, stop=stop) as session:
            if site_controller is None:  # else no Modbus controller is under test
                session.more_verdicts = lambda: bridge.health.verdicts(twin.env.now, problems)
            if isinstance(clock, WallClock):
                clock.on_overrun = functools.partial(_overran, session.stop, options.overrun == "stop")
            try:
                _announce(echo, scenario, f"{'tcp' if tls is None else 'tls'}://{host}:{port}", options, bridge,
                          out_dir, extra)
                if on_listening is not None:
                    on_listening(port)
                if stations is not None:
                    echo(f"{len(stations.stations)} OCPP {ocpp.version} stations connecting to "
                         f"{ocpp.url}/<station id>")
                    stations.start()  # waits for their boots, bounded by ocpp.boot_wait_s
                if start_gate is not None and options.clock == "paced":
                    start_gate.wait(start_gate_timeout_s)
                site = bridge if site_controller is None else \
                    builtin_control(make_controller(site_controller, twin.site_info))
                control, sinks = (site, [bridge]) if stations is None else (chain(site, stations), [bridge, stations])
                session.run(control, sinks, clock=clock, record_lateness=options.clock == "paced")
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


def _announce(echo, scenario: Scenario, address: str, options: ServeOptions, bridge: Bridge,
              out_dir: Path, extra: list[tuple[str, ModbusServer]]) -> None:
    pacing = (f"in lockstep (each step waits for site.step_ack, at most {options.lockstep_timeout_s:g} s)"
              if options.clock == "lockstep" else f"at {options.speed:g}x")
    lines = "".join(f", {label}" for label, _ in extra)
    echo(f"serving {scenario.name} on modbus {address}{lines} {pacing} ({scenario.n_steps} steps of "
         f"{scenario.step_s:g} s){' read-only' if options.read_only else ''}; recording to {out_dir}")
    site_timeout_s = bridge.twin.site.watchdog.heartbeat_timeout_s
    echo(f"watchdog: heartbeat timeout {bridge.heartbeat_timeout_s:g} s simulated "
         + ("(the site's)" if bridge.heartbeat_timeout_s == site_timeout_s else f"(set; the site's is {site_timeout_s:g} s)"))


def _clock(options: ServeOptions, twin: Twin, bridge: Bridge, stop: threading.Event | None):
    """The run's clock; under lockstep the bridge's ``site.step_ack`` releases each step."""
    if options.clock == "paced":
        return WallClock(options.speed, options.overrun)

    def timed_out(step: int, waited_s: float) -> None:
        bridge.health.step_late(twin.env.now, clock.consecutive_timeouts)
        twin.log("lockstep_timeout", "site", value=waited_s,
                 detail=f"step {step} not acknowledged within {waited_s:.3g} s wall; the twin went on")

    clock = LockstepClock(options.lockstep_timeout_s, options.first_step_timeout_s, timed_out, stop,
                          last_step=twin.scenario.n_steps)
    bridge.on_step_ack = clock.acknowledge
    bridge.health.lockstep, bridge.health.lockstep_timeout_s = True, options.lockstep_timeout_s
    return clock


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

"""``satwin serve``, ``satwin registers``, ``satwin controller`` and ``satwin bench hil``.

Registered into the ``satwin`` app through the ``satwin.commands`` entry point
(``register(app)``). A user mistake (unknown scenario file, port in use, bad host) prints
one line and exits with code 2, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import shlex
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import scenarios
from hil.servers.limits import ConnectionLimits
from twin.app.cli import load_with_options
from twin.app.paths import writable_file, writable_folder
from twin.config.addresses import allowed_addresses
from twin.config.errors import ScenarioError
from twin.config.scenario import Scenario
from twin.run.overrun import OVERRUN_POLICIES

FORMATS = ("json", "csv", "md")


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _load(scenario: Path, site: Optional[Path], step: Optional[str] = None,
          duration: Optional[str] = None) -> Scenario:
    return load_with_options(scenario, site, step=step, duration=duration)


def _check_host(host: str) -> None:
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise ScenarioError(None, "--host", f"cannot resolve '{host}' ({exc})") from None


def _limits(max_connections: int, idle_timeout_s: float) -> ConnectionLimits:
    if max_connections < 1:
        raise ScenarioError(None, "--max-connections", "must be at least 1")
    if not 0 < idle_timeout_s < float("inf"):
        raise ScenarioError(None, "--idle-timeout", "must be a positive number of seconds")
    return ConnectionLimits(max_connections, idle_timeout_s)


def _tls(cert: Optional[Path], key: Optional[Path], ca: Optional[Path], roles: Optional[Path]):
    from hil.servers.tls import tls_options

    try:
        return tls_options(cert, key, ca, roles)
    except ValueError as exc:
        option, _, message = str(exc).partition(": ")
        raise ScenarioError(None, option, message) from None


def serve_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file")],
    site: Annotated[Optional[Path], typer.Option(help="Use this site file instead of the scenario's")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean otherwise")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 5020,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second")] = 1.0,
    step: Annotated[Optional[str], typer.Option(help="Step, e.g. 1s")] = None,
    duration: Annotated[Optional[str], typer.Option(help="Override the scenario duration, e.g. 2h")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Results folder")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Reject every write (exception 01)")] = False,
    allow: Annotated[Optional[list[str]], typer.Option(help="Client IP allowed to connect (repeatable)")] = None,
    clock: Annotated[str, typer.Option(help="paced (wall clock x --speed) or lockstep (each step waits for "
                                            "site.step_ack)")] = "paced",
    lockstep_timeout: Annotated[float, typer.Option(help="lockstep: wall seconds to wait for an acknowledgement "
                                                         "before the twin goes on")] = 5.0,
    watchdog_timeout: Annotated[Optional[float], typer.Option(
        help="Heartbeat timeout, simulated s (default: the site's [watchdog])")] = None,
    single_writer: Annotated[bool, typer.Option("--single-writer", help="Refuse writes (exception 01) from any "
                                                                        "client but the first that wrote")] = False,
    audit_reads: Annotated[bool, typer.Option("--audit-reads", help="Audit reads too, not only writes")] = False,
    audit_heartbeats: Annotated[bool, typer.Option("--audit-heartbeats", help="One audit line per heartbeat "
                                                                              "(default: summarised)")] = False,
    start: Annotated[Optional[str], typer.Option(help="Begin at this time of the scenario's day, HH:MM")] = None,
    rtu: Annotated[Optional[str], typer.Option(help="Also serve Modbus RTU on a serial line: DEVICE[:BAUD[:PARITY]], "
                                                    "e.g. /dev/ttyUSB0:9600:N")] = None,
    rtu_over_tcp: Annotated[Optional[int], typer.Option(help="Also serve the RTU units with RTU framing over TCP "
                                                             "on this port (as serial gateways do)")] = None,
    bus_timing: Annotated[bool, typer.Option(help="RTU replies no faster than the line's baud rate and the "
                                                  "product's reply time allow")] = True,
    ocpp_csms: Annotated[Optional[str], typer.Option(help="Chargers also connect as OCPP stations to "
                                                          "URL/<station id>")] = None,
    ocpp_version: Annotated[str, typer.Option(help="1.6 or 2.0.1")] = "2.0.1",
    ocpp_meter_interval: Annotated[str, typer.Option(help="MeterValues interval (simulated)")] = "60s",
    ocpp_password_file: Annotated[Optional[Path], typer.Option(help="TOML: station id = password "
                                                                    "(security profile 1)")] = None,
    ocpp_ca_file: Annotated[Optional[Path], typer.Option(help="CA for a wss:// CSMS")] = None,
    max_connections: Annotated[int, typer.Option(
        help="Clients connected at once; one more is disconnected at once")] = ConnectionLimits.max_connections,
    idle_timeout: Annotated[float, typer.Option(
        help="Seconds without a complete request before a connection is closed")] = ConnectionLimits.idle_timeout_s,
    overrun: Annotated[str, typer.Option(help="When the machine cannot keep --speed: warn (catch up), slow (run "
                                              "slower from there) or stop (fail the run)")] = "warn",
    tls_cert: Annotated[Optional[Path], typer.Option(help="Modbus/TCP Security: the server's certificate (PEM)")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="Modbus/TCP Security: the server's private key (PEM)")] = None,
    tls_ca: Annotated[Optional[Path], typer.Option(help="Modbus/TCP Security: the CA that signs client certificates; "
                                                        "clients without one are refused")] = None,
    tls_roles: Annotated[Optional[Path], typer.Option(help="TOML: client certificate CN = \"control\" or "
                                                           "\"read-only\" (default: the certificate's OU, "
                                                           "else read-only)")] = None,
) -> None:
    """Run the twin paced to the wall clock (or in lockstep) and serve every device over Modbus TCP (and RTU,
    and OCPP)."""
    from hil.ocpp.cli import ocpp_options
    from hil.serve import CLOCKS, ServeOptions, serve
    from hil.servers.rtu import RtuLine
    from twin.config.start import start_at

    try:
        try:
            line = RtuLine.parse(rtu) if rtu else None
        except ValueError as exc:
            raise ScenarioError(None, "--rtu", str(exc)) from None
        loaded = _load(scenario, site, step, duration)
        if start is not None:
            loaded = start_at(loaded, start)
        _check_host(host)
        if speed <= 0:
            raise ScenarioError(None, "--speed", "must be positive")
        if overrun not in OVERRUN_POLICIES:
            raise ScenarioError(None, "--overrun", f"'{overrun}': choose {', '.join(OVERRUN_POLICIES)}")
        if clock not in CLOCKS:
            raise ScenarioError(None, "--clock", f"choose {' or '.join(CLOCKS)}, not '{clock}'")
        for flag, value in (("--lockstep-timeout", lockstep_timeout), ("--watchdog-timeout", watchdog_timeout)):
            if value is not None and value <= 0:
                raise ScenarioError(None, flag, "must be positive")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = writable_folder(out or Path("results") / f"{loaded.name}-modbus-{stamp}", "--out")
        ocpp = ocpp_options(ocpp_csms, ocpp_version, ocpp_meter_interval, ocpp_password_file, ocpp_ca_file)
        options = ServeOptions(speed=speed, clock=clock, lockstep_timeout_s=lockstep_timeout,
                               watchdog_timeout_s=watchdog_timeout, read_only=read_only, single_writer=single_writer,
                               audit_reads=audit_reads, audit_heartbeats=audit_heartbeats, overrun=overrun)
        result = serve(loaded, out_dir, host=host, port=port, options=options, allow=allowed_addresses(allow),
                       rtu=line, rtu_over_tcp_port=rtu_over_tcp, bus_timing=bus_timing,
                       ocpp=ocpp, limits=_limits(max_connections, idle_timeout),
                       tls=_tls(tls_cert, tls_key, tls_ca, tls_roles))
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # "cannot listen on ..." from a server, or a disk that filled up
        raise _fail(f"{exc.strerror} ({exc.filename})" if exc.strerror and exc.filename else str(exc)) from None
    late = result.lateness_ms
    stats = result.stats
    print(f"{result.status}: {stats.steps} steps in {stats.wall_s:.1f} s wall; results in {result.out_dir}")
    if "p50_ms" in late:
        print(f"step lateness p50 {late['p50_ms']:.2f} ms, p99 {late['p99_ms']:.2f} ms, max {late['max_ms']:.2f} ms, "
              f"overruns {late['overruns']}")
    elif "controller_p50_ms" in late:
        print(f"controller time per step p50 {late['controller_p50_ms']:.2f} ms, p99 {late['controller_p99_ms']:.2f} "
              f"ms; lockstep timeouts {late['lockstep_timeouts']}")
    for verdict in result.verdicts:
        if verdict.criterion.startswith(("ocpp station", "charging profiles obeyed")):
            print(f"{'pass' if verdict.passed else 'FAIL'}: {verdict.criterion}")
    if result.status == "interrupted":
        raise typer.Exit(130)


def registers_command(
    scenario: Annotated[Optional[Path], typer.Argument(help="Scenario TOML file (not needed with --profile)")] = None,
    format: Annotated[str, typer.Option("--format", help="json, csv or md")] = "md",
    out: Annotated[Optional[Path], typer.Option(help="Write here instead of stdout")] = None,
    site: Annotated[Optional[Path], typer.Option(help="Use this site file instead of the scenario's")] = None,
    profile: Annotated[Optional[str], typer.Option(help="Export this product profile's map instead "
                                                         "(sdm630, dtsu666, dtsu666-h, sun2000)")] = None,
    unit_id: Annotated[Optional[int], typer.Option(help="With --profile: the unit id (default: the product's)")] = None,
) -> None:
    """Export the Modbus register map of a scenario's site (plain, SunSpec, product devices), or of a profile."""
    from hil.maps.profile_docs import profile_export, site_export
    from hil.maps.profiles import profile_names

    if format not in FORMATS:
        raise _fail(f"--format: choose from {', '.join(FORMATS)}")
    if profile is not None:
        if profile not in profile_names():
            raise _fail(f"--profile: unknown profile '{profile}' (choose from {', '.join(profile_names())})")
        text = profile_export(profile, format, unit_id)
    elif scenario is None:
        raise _fail("give a scenario file, or --profile NAME")
    else:
        try:
            text = site_export(_load(scenario, site), format)
        except ScenarioError as exc:
            raise _fail(str(exc)) from None
    if out is None:
        sys.stdout.write(text)
    else:
        writable_file(out, "--out")
        out.write_text(text)


def controller_command(
    host: Annotated[str, typer.Option(help="Server address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Server port")] = 5020,
    unit_map: Annotated[Optional[Path], typer.Option(help="JSON from `satwin registers --format json`; "
                                                          "without it, devices are discovered")] = None,
) -> None:
    """The reference peak-shaving controller, talking to `satwin serve` over Modbus only."""
    from hil.clients.reference_ems import run_controller

    if unit_map is not None and not unit_map.exists():
        raise _fail(f"--unit-map: {unit_map} not found")
    try:
        result = run_controller(host, port, unit_map)
    except ConnectionError as exc:
        raise _fail(str(exc)) from None
    print(f"controller stopped after {result.cycles} cycles at sim time {result.last_sim_t_s:g} s: {result.reason}")


def bench_hil(
    rtu: Annotated[bool, typer.Option("--rtu", help="Instead: RTU round trips on a pty pair at 9,600 and 115,200 "
                                                    "baud, bus timing on and off")] = False,
) -> None:
    """Modbus round trip with 10 clients polling the plain map at 10 Hz, and step lateness meanwhile."""
    if rtu:
        from hil.bench_rtu import bench_rtu

        bench_rtu()
        return
    from hil.bench import bench_hil as run_bench

    run_bench()


def bench_soak_command(
    days: Annotated[float, typer.Option(help="Simulated days")] = 7.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second")] = 3600.0,
    step: Annotated[str, typer.Option(help="Step of the served twin")] = "10s",
) -> None:
    """A long served run with 10 polling clients: RSS and descriptor slope per simulated day."""
    from hil.bench_soak import bench_soak
    from twin.app.cli import span_option

    if days <= 0 or speed <= 0:
        raise _fail("--days and --speed must be positive")
    bench_soak(days, speed, span_option(step, "--step"))


def bench_abuse_command(
    phase: Annotated[float, typer.Option(help="Wall seconds of each phase")] = 10.0,
    frames: Annotated[int, typer.Option(help="Malformed frames in the malformed phase")] = 10_000,
) -> None:
    """A good client's Modbus round trip while the server is attacked: malformed frames, idle
    connections, slowloris, a write flood; step lateness and descriptors meanwhile."""
    from hil.bench_abuse import bench_abuse

    if phase <= 0 or frames < 1:
        raise _fail("--phase must be positive and --frames at least 1")
    bench_abuse(phase, frames)


DEMO_SCENARIO = scenarios.REFERENCE


def charger_cap_kw(scenario: Scenario) -> float:
    """What the contract and the battery at full discharge leave the chargers beside the building peak
    and the swap station at full power. The CSMS keeps the stations inside what the site can carry at
    all; the EMS's site EV cap on Modbus does the rest (without the battery in it, the CSMS held back
    ~13 % of the holiday's EV energy that the battery could have carried)."""
    site = scenario.site
    swap_kw = site.swap.pack_chargers * site.swap.pack_charger_kw + site.swap.aux_kw if site.swap else 0.0
    bess_kw = site.bess.p_max_kw if site.bess else 0.0
    return site.utility.contract_limit_kw + bess_kw - sum(load.p_peak_kw for load in site.loads) - swap_kw


def demo_command(
    out: Annotated[Path, typer.Option(help="Results folder")] = Path("results/demo"),
    step: Annotated[str, typer.Option(help="Step of the served twin")] = "5s",
    ocpp: Annotated[bool, typer.Option("--ocpp", help="Chargers on OCPP 2.0.1 under the reference CSMS too "
                                                      "(the EMS still in lockstep; OCPP has none: its "
                                                      "verdicts are judged in simulated time)")] = False,
    speed: Annotated[float, typer.Option(help="Unused: the demo runs in lockstep (kept for old scripts)")] = 360.0,
) -> None:
    """The main job: the holiday peak served over loopback Modbus in lockstep, the reference controller as a
    separate process."""
    from hil.acceptance import run_with_external_controller
    from hil.ocpp_acceptance import run_with_csms
    from twin.app.cli import print_kpis, print_verdicts
    from twin.results.verdicts import verdicts_as_dicts

    scenario = load_with_options(DEMO_SCENARIO, step=step)
    command = f"{shlex.quote(sys.executable)} -m twin controller --host {{host}} --port {{port}}"
    print(f"{scenario.name}: 24 h served over Modbus "
          f"in lockstep ({scenario.n_steps} steps of {scenario.step_s:g} s, each waits for the controller)"
          + "; reference controller: satwin controller (separate process)"
          + ("; chargers on OCPP under satwin csms (separate process)" if ocpp else ""))
    if ocpp:
        csms = f"{shlex.quote(sys.executable)} -m twin csms --port {{port}} --ev-cap-kw {charger_cap_kw(scenario):.0f}"
        result = run_with_csms(scenario, out, csms, controller_cmd=command, clock="lockstep", echo=print)
    else:
        result = run_with_external_controller(scenario, out, command, clock="lockstep", echo=print)
    print_kpis(result.kpis, f"{scenario.name} — external reference controller over Modbus ({result.status})")
    print_verdicts(verdicts_as_dicts(result.verdicts), "acceptance criteria")
    pace = result.lateness_ms
    if "controller_p50_ms" in pace:
        print(f"{result.stats.steps} steps in {result.stats.wall_s:.0f} s wall; controller time per step p50 "
              f"{pace['controller_p50_ms']:.1f} ms, p99 {pace['controller_p99_ms']:.1f} ms; "
              f"lockstep timeouts {pace['lockstep_timeouts']}")
    print(f"results: {out}  (report.md, plot.png, kpi.json, verdicts.json, timeseries/, events/, modbus_audit.jsonl, "
          f"controller.log)")
    if result.error:
        raise _fail(result.error)
    if not result.passed:
        raise typer.Exit(1)


def replay_controller_command(
    results: Annotated[Path, typer.Argument(help="Results folder of a satwin serve / satwin test run")],
    site: Annotated[Optional[Path], typer.Option(help="Replay against this site file instead")] = None,
    scenario: Annotated[Optional[Path], typer.Option(help="Replay against this scenario file instead (its step "
                                                          "and duration are the recorded run's)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Replay with another seed")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Results folder of the replay")] = None,
) -> None:
    """Replay a recorded controller's writes at their simulated times against a (changed) twin."""
    from hil.replay import original_scenario, replay_controller
    from twin.config.scenario import load_scenario

    try:
        original = original_scenario(results)
        changed = original
        if scenario is not None:
            changed = load_scenario(scenario).with_options(step_s=original.step_s, duration_s=original.duration_s)
        changed = changed.with_options(site_path=site.resolve() if site else None, seed=seed)
        out_dir = out or results.parent / f"{results.name}-replay-{dt.datetime.now():%Y%m%d-%H%M%S}"
        print(f"replaying the controller of {results} against {changed.name} on {changed.site.name} "
              f"(seed {changed.seed}); results in {out_dir}")
        result = replay_controller(results, out_dir, changed)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    print(f"{result.writes} writes replayed, {len(result.refused)} refused by the changed twin"
          + (f" (first: {result.refused[0]})" if result.refused else ""))
    _print_side_by_side(result)


def _print_side_by_side(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from twin.results.kpi import format_kpi

    changed = result.changed_kpis()
    table = Table(title=f"KPIs that changed ({len(changed)})", header_style="bold")
    for column in ("figure", "original", "replay"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for key, before, after in changed:
        table.add_row(format_kpi(key, before)[0], format_kpi(key, before)[1],
                      format_kpi(key, after)[1] if after is not None else "")
    verdicts = Table(title="verdicts", header_style="bold")
    for column in ("criterion", "original", "replay"):
        verdicts.add_column(column)
    before = {v["criterion"]: v["passed"] for v in result.original_verdicts}
    after = {v.criterion: v.passed for v in result.verdicts}

    def mark(passed) -> str:
        return "" if passed is None else "pass" if passed else "[red]FAIL[/]"

    for criterion in dict.fromkeys([*before, *after]):
        verdicts.add_row(criterion, mark(before.get(criterion)), mark(after.get(criterion)))
    console = Console()
    console.print(table if changed else "KPIs: identical to the original run")
    console.print(verdicts)


def bench_ocpp(
    wall: Annotated[float, typer.Option(help="Wall seconds to run")] = 60.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second")] = 10.0,
    version: Annotated[str, typer.Option(help="1.6 or 2.0.1")] = "2.0.1",
    traffic: Annotated[Optional[float], typer.Option(help="x the ordinary day's cars and trucks (0: the "
                                                          "holiday's own; default: every connector busy)")] = None,
) -> None:
    """Every freight-site station on OCPP with 10 s MeterValues: messages/s, CSMS round trip, step lateness."""
    from hil.ocpp_bench import BUSY_TRAFFIC
    from hil.ocpp_bench import bench_ocpp as run_bench

    run_bench(wall, speed, version=version, traffic=BUSY_TRAFFIC if traffic is None else traffic or None)


def register(app: typer.Typer) -> None:
    from twin.app.cli import bench_app

    bench_app.command("hil")(bench_hil)
    bench_app.command("ocpp")(bench_ocpp)
    bench_app.command("soak")(bench_soak_command)
    bench_app.command("abuse")(bench_abuse_command)
    app.command("demo")(demo_command)
    app.command("serve")(serve_command)
    app.command("registers")(registers_command)
    app.command("controller")(controller_command)
    from hil.ocpp.cli import csms_command

    app.command("csms")(csms_command)
    app.command("replay-controller")(replay_controller_command)

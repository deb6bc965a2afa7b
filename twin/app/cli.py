"""``satwin`` command line.

Core commands live here; ``hil`` and ``gui`` add theirs through the Python entry-point
group ``satwin.commands`` (a ``register(app)`` function each), so the twin never imports
them. A user mistake prints one line naming the file and field and exits with code 2;
a failure inside a run exits with code 1; neither prints a traceback.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from twin.config.errors import ScenarioError, SimulationError
from twin.config.overrides import parse_assignment
from twin.config.scenario import CONTROLLERS, load_scenario
from twin.config.units import parse_duration_s
from twin.results.kpi import KPI_LABELS, format_kpi

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="satwin: hardware-in-the-loop digital twin of an expressway service-area microgrid.")
bench_app = typer.Typer(no_args_is_help=False, help="Measure speed (prints figures; never a pass/fail test).")
app.add_typer(bench_app, name="bench")
console = Console()
err_console = Console(stderr=True)


def span_option(value: Optional[str], option: str) -> Optional[float]:
    if value is None:
        return None
    try:
        return parse_duration_s(value)
    except ValueError as exc:
        raise ScenarioError(None, option, str(exc)) from None


def load_with_options(scenario: Path, site: Optional[Path] = None, controller: Optional[str] = None,
                      step: Optional[str] = None, duration: Optional[str] = None, seed: Optional[int] = None,
                      sets: Optional[list[str]] = None):
    """The scenario with command-line overrides applied (``--set`` first), each checked and named on error."""
    overrides = dict(parse_assignment(text) for text in sets or ())
    loaded = load_scenario(scenario, overrides, site_path=site)
    return loaded.with_options(controller=controller, step_s=span_option(step, "--step"),
                               duration_s=span_option(duration, "--duration"), seed=seed)


def print_kpis(kpis: dict, title: str) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for key in KPI_LABELS:
        if key in kpis:
            table.add_row(*format_kpi(key, kpis[key]))
    console.print(table)


def print_comparison(rows: list, covers_a_year: bool = True) -> None:
    from twin.results.published import HEADER

    caption = None if covers_a_year else "not a year: the published yearly figures are not set beside this run"
    table = Table(title="Compared with the real site", caption=caption, show_header=True, header_style="bold")
    for name in HEADER[:-1]:
        table.add_column(name, justify="right" if name in ("simulated", "published", "difference") else "left")
    for row in rows:
        table.add_row(*row.cells()[:-1])  # the notes are in report.md; a terminal has no room
    console.print(table)


def progress_bar(quiet: bool):
    """A rich progress bar as a ``progress(done, total)`` callback (None when quiet)."""
    if quiet:
        return None, None
    bar = Progress(TextColumn("[bold]simulating"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err_console,
                   transient=True)
    task = bar.add_task("run", total=1)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario file (.toml)")],
    site: Annotated[Optional[Path], typer.Option(help="use this site file instead of the scenario's")] = None,
    controller: Annotated[Optional[str], typer.Option(help=f"one of: {', '.join(CONTROLLERS)}")] = None,
    step: Annotated[Optional[str], typer.Option(help="step length, e.g. 1s, 1min, 15min")] = None,
    duration: Annotated[Optional[str], typer.Option(help="simulated span, e.g. 24h, 365d")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed (same seed + files = same results)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="results folder (default results/<scenario>-<controller>-<time>)")] = None,
    backend: Annotated[str, typer.Option(help="power flow: newton (fast) or pandapower (runpp each step)")] = "newton",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="change a site or scenario field, e.g. "
                                                      "--set bess.e_kwh=1500 (repeatable; docs/sweeps.md)")] = None,
) -> None:
    """Run a scenario headless, as fast as possible; print KPIs and write a results folder."""
    from twin.run.session import default_out_dir, run_scenario

    if backend not in ("newton", "pandapower"):
        raise ScenarioError(None, "--backend", f"unknown backend '{backend}' (newton or pandapower)")
    from twin.app.paths import writable_folder

    loaded = load_with_options(scenario, site, controller, step, duration, seed, set_)
    out_dir = writable_folder(out or default_out_dir(loaded, loaded.controller), "--out")
    if not quiet:
        err_console.print(f"[bold]{loaded.name}[/] on [bold]{loaded.site.name}[/], controller "
                          f"[bold]{loaded.controller}[/], {loaded.n_steps} steps of {loaded.step_s:g} s")
    bar, update = progress_bar(quiet)
    if bar:
        bar.start()
    try:
        result = run_scenario(loaded, out_dir, backend=backend, progress=update)
    finally:
        if bar:
            bar.stop()
    print_kpis(result.kpis, f"{loaded.name} — {loaded.controller} ({result.status})")
    print_verdicts([v.__dict__ for v in result.verdicts], "acceptance criteria")
    if result.comparison:
        from twin.results.published import covers_a_year

        print_comparison(result.comparison, covers_a_year(loaded))
    console.print(f"results: {out_dir}  (report.md, plot.png, kpi.json, timeseries/, events/)")
    if result.status == "failed":
        raise SimulationError(result.error or "run failed")
    if result.status == "interrupted":
        raise typer.Exit(130)


def print_verdicts(verdicts, title: str) -> None:
    from twin.results.verdicts import describe_windows

    if not verdicts:
        return
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("criterion")
    table.add_column("measured", justify="right")
    table.add_column("verdict")
    table.add_column("when violated / why")
    for v in verdicts:
        why = describe_windows([tuple(w) for w in v.get("windows", ())]) or v.get("reason", "")
        table.add_row(v["criterion"], f"{v['measured']:.4g}", "[green]pass[/]" if v["passed"] else "[red]FAIL[/]", why)
    console.print(table)


@app.command("test")
def test_suite(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or folders (scenarios with criteria)")],
    controller: Annotated[Optional[str], typer.Option(help=f"override every scenario's controller: {', '.join(CONTROLLERS)}")] = None,
    controller_cmd: Annotated[Optional[str], typer.Option(
        help="run each scenario over Modbus against this shell command, e.g. 'python my_ems.py --host {host} "
             "--port {port} --log {out}/ems.log'; placeholders {host} {port} {scenario} {out}")] = None,
    clock: Annotated[Optional[str], typer.Option(
        help="with --controller-cmd: lockstep (default: the twin waits for site.step_ack each step) or paced")] = None,
    speed: Annotated[Optional[float], typer.Option(
        help="with --controller-cmd and --clock paced, or with --csms-cmd/--ocpp-csms alone: simulated seconds "
             "per wall second (default 360)")] = None,
    lockstep_timeout: Annotated[Optional[float], typer.Option(
        help="with --clock lockstep: wall seconds to wait for an acknowledgement (default 5)")] = None,
    watchdog_timeout: Annotated[Optional[float], typer.Option(
        help="with --controller-cmd: heartbeat timeout, simulated s (default: the site's)")] = None,
    csms_cmd: Annotated[Optional[str], typer.Option(
        help="chargers on OCPP against this CSMS command, started per scenario, e.g. 'my_csms --port {port}'")] = None,
    ocpp_csms: Annotated[Optional[str], typer.Option(help="chargers on OCPP against this running CSMS (ws://…)")] = None,
    ocpp_version: Annotated[str, typer.Option(help="OCPP version of the stations: 1.6 or 2.0.1")] = "2.0.1",
    junit: Annotated[Optional[Path], typer.Option(help="write JUnit XML here")] = None,
    jobs: Annotated[int, typer.Option(help="scenarios run in parallel processes")] = 1,
    step: Annotated[Optional[str], typer.Option(help="override every scenario's step")] = None,
    out: Annotated[Optional[Path], typer.Option(help="suite results folder (default results/suite-<time>)")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="run on this Dask cluster, e.g. tcp://10.0.0.5:8786 "
                                                          "(docs/sweeps.md)")] = None,
) -> None:
    """Run a scenario suite headless and judge its criteria; exits 1 if any criterion fails."""
    import datetime as dt

    from twin.app.paths import writable_file, writable_folder
    from twin.app.suite import NOT_RUN, run_suite, write_json_summary, write_junit, write_summary
    from twin.run.loop import Stop

    if controller is not None and controller not in CONTROLLERS:
        raise ScenarioError(None, "--controller", f"unknown controller '{controller}' (choose from {', '.join(CONTROLLERS)})")
    if jobs < 1:
        raise ScenarioError(None, "--jobs", "must be at least 1")
    out_dir = writable_folder(out or Path("results") / f"suite-{dt.datetime.now():%Y%m%d-%H%M%S}", "--out")
    if junit:
        writable_file(junit, "--junit")  # now, not after the whole suite ran
    out_dir.mkdir(parents=True, exist_ok=True)
    overrides = {"controller": controller, "step_s": span_option(step, "--step")}
    runner_options = {"clock": clock, "speed": speed, "lockstep_timeout_s": lockstep_timeout,
                      "watchdog_timeout_s": watchdog_timeout}
    _check_runner_options(controller_cmd, bool(csms_cmd or ocpp_csms), runner_options)
    label = f"external: {controller_cmd}" if controller_cmd else (controller or "each scenario's own")

    def done(outcome) -> None:
        mark = "[green]PASS[/]" if outcome.passed else "[red]FAIL[/]"
        err_console.print(f"{mark} {outcome.name} ({outcome.wall_s:.1f} s)" + (f": {outcome.error}" if outcome.error else ""))

    if ocpp_version not in ("1.6", "2.0.1"):
        raise ScenarioError(None, "--ocpp-version", "choose from 1.6, 2.0.1")
    if ocpp_csms and not ocpp_csms.startswith(("ws://", "wss://")):
        raise ScenarioError(None, "--ocpp-csms", f"'{ocpp_csms}' is not a ws:// or wss:// URL")
    ocpp = {"csms_cmd": csms_cmd, "ocpp_url": ocpp_csms, "version": ocpp_version} if csms_cmd or ocpp_csms else None
    stop = Stop()
    if scheduler is None:
        outcomes = run_suite(paths, out_dir, jobs, overrides, controller_cmd, on_done=done, ocpp=ocpp, stop=stop,
                             runner_options=runner_options)
    else:
        from twin.app.sweep.execute import dask_client

        with dask_client(scheduler) as client:
            outcomes = run_suite(paths, out_dir, jobs, overrides, controller_cmd, on_done=done,
                                 executor=client.get_executor(pure=False), ocpp=ocpp,
                                 runner_options=runner_options)
    for outcome in outcomes:
        print_verdicts(outcome.verdicts, f"{outcome.name} — {'pass' if outcome.passed else 'FAIL'}")
    summary = write_summary(outcomes, out_dir, label)
    write_json_summary(outcomes, out_dir / "summary.json", label)
    if junit:
        write_junit(outcomes, junit)
        write_json_summary(outcomes, junit.with_suffix(".json"), label)
    passed = sum(o.passed for o in outcomes)
    console.print(f"{passed} of {len(outcomes)} scenarios passed; summary: {summary}" + (f", JUnit: {junit}" if junit else ""))
    if stop.is_set():
        err_console.print(f"suite stopped ({stop.reason}): {sum(o.error != NOT_RUN for o in outcomes)} of "
                          f"{len(outcomes)} scenarios ran")
        raise typer.Exit(130)
    if passed < len(outcomes):
        raise typer.Exit(1)


def _flag(option: str) -> str:
    return "--" + option.removesuffix("_s").replace("_", "-")


# what a suite against a CSMS alone takes: its twin is paced (no site EMS acknowledges steps), and
# the scenario's own controller runs the site, so no Modbus watchdog runs either
CSMS_ONLY_OPTIONS = ("speed",)


def _check_runner_options(controller_cmd: Optional[str], ocpp: bool, options: dict) -> None:
    given = [name for name, value in options.items() if value is not None]
    if not controller_cmd:
        wrong = [name for name in given if not ocpp or name not in CSMS_ONLY_OPTIONS]
        if wrong and ocpp:
            raise ScenarioError(None, _flag(wrong[0]), "applies only with --controller-cmd (against a CSMS alone "
                                "the twin is paced at --speed)")
        if wrong:
            raise ScenarioError(None, _flag(wrong[0]), "applies only with --controller-cmd or --csms-cmd/--ocpp-csms "
                                "(built-in controllers run as fast as possible)")
    if options["clock"] is not None and options["clock"] not in ("lockstep", "paced"):
        raise ScenarioError(None, "--clock", f"choose lockstep or paced, not '{options['clock']}'")
    for name in ("speed", "lockstep_timeout_s", "watchdog_timeout_s"):
        if options[name] is not None and options[name] <= 0:
            raise ScenarioError(None, _flag(name), "must be positive")


@app.command()
def finish(results_dir: Annotated[Path, typer.Argument(help="a results folder left by a killed run")]) -> None:
    """Complete a results folder whose run was killed (KPIs, verdicts, report; status recovered)."""
    from twin.run.recover import finish_folder

    done = finish_folder(results_dir)
    if not done.changed:
        console.print(f"{results_dir}: already finished by its run (status {done.status}); nothing to do")
        return
    print_kpis(done.kpis, f"{results_dir.name} — recovered, {done.steps} steps")
    console.print(f"{results_dir}: finished, status recovered ({done.steps} steps recorded)")


@app.command()
def normals(
    station_csv: Annotated[Path, typer.Argument(help="a CDSRD station file (daily GHI), e.g. 57083.csv")],
    years: Annotated[str, typer.Option(help="first-last year of the normal period")] = "1991-2017",
) -> None:
    """Monthly GHI normals of a station, as lines for the \\[climate] table of a site file."""
    from twin.app.climate_normals import monthly_normals

    first, _, last = years.partition("-")
    if not (first.isdigit() and last.isdigit() and int(first) <= int(last)):
        raise ScenarioError(None, "--years", f"expected FIRST-LAST, e.g. 1991-2017; got '{years}'")
    found = monthly_normals(station_csv, int(first), int(last))
    typer.echo(found.toml(station_csv))  # plain text to paste into a site file: no wrapping, no markup
    typer.echo(f"# years per month: {', '.join(map(str, found.years_per_month))}")


@bench_app.callback(invoke_without_command=True)
def bench(ctx: typer.Context,
          compare_ref: Optional[str] = typer.Option(None, "--compare-ref", help="also run this git ref (a temporary "
                                                    "worktree), side by side, for an A/B in one run"),
          duration: str = typer.Option("24h", help="length of the 1 s run"),
          year: bool = typer.Option(True, "--year/--no-year", help="also time the year at 1 h with its baseline")) -> None:
    """Twin speed: 24 h at 1 s (µs a step, part by part) and at 1 min, a year at 1 h, against a plain runpp loop."""
    if ctx.invoked_subcommand is None:
        from twin.app.bench import bench_core

        bench_core(echo=console.print, compare_ref=compare_ref, duration_s=span_option(duration, "--duration"),
                   year=year)


from twin.app.sweep.cli import register as _register_sweeps  # noqa: E402  (Dask is imported by the command only)

_register_sweeps(app, bench_app)


def _register_plugins() -> None:
    from twin.app import engineer

    engineer.register(app)  # validate, grid, reference, compare
    for entry in entry_points(group="satwin.commands"):
        entry.load()(app)


def main() -> None:
    _register_plugins()
    try:
        app()
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)  # plain: a rich console would wrap the path
        sys.exit(2)
    except SimulationError as exc:
        print(f"run failed: {exc}", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:  # a disk that filled up, a folder that vanished: one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"failed: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)

"""``satwin sweep`` and ``satwin bench sweep`` (registered by ``twin.app.cli``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from twin.config.errors import ScenarioError
from twin.config.sweep import FILE_EVERY_S, ROWS_PER_FILE

console = Console()
err_console = Console(stderr=True)


def progress_bar(quiet: bool):
    """A live bar with done / failed / left and an ETA, as an ``execute`` progress callback."""
    if quiet:
        return None, None
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("failed {task.fields[failed]}  left {task.fields[left]}"), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("runs", total=1, failed=0, left=0)

    def update(tally) -> None:
        bar.update(task, completed=tally.done, total=tally.total, failed=tally.failed, left=tally.left)

    return bar, update


def print_points(points, params) -> None:
    if not points or not points[0].verdicts:
        return
    table = Table(title="sweep criteria", header_style="bold")
    for column in ["scenario", *params, "runs", "criterion", "measured", "95 % interval", "verdict"]:
        table.add_column(column, justify="right" if column in ("runs", "measured") else "left")
    for p in points:
        for v in p.verdicts:
            interval = "" if v.low != v.low else f"{v.low:.3f}–{v.high:.3f}"
            table.add_row(p.scenario, *(str(p.params.get(n)) for n in params), str(p.runs), v.criterion,
                          f"{v.measured:.4g}", interval, "[green]pass[/]" if v.passed else "[red]FAIL[/]")
    console.print(table)


def sweep_command(
    sweep_file: Annotated[Path, typer.Argument(help="sweep file (.toml), see docs/sweeps.md")],
    scheduler: Annotated[Optional[str], typer.Option(help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                                                          "(default: a LocalCluster on this machine)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="LocalCluster worker processes (default: one per core)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="sweep folder (default results/sweeps/<name>; "
                                                     "re-running into it skips the runs already there)")] = None,
    keep_runs: Annotated[bool, typer.Option("--keep-runs", help="keep every run's results folder under DIR/runs-data")] = False,
    find_min: Annotated[Optional[str], typer.Option(help="bisect this parameter for the smallest passing value")] = None,
    subject_to: Annotated[Optional[str], typer.Option(help="the criterion --find-min must meet, e.g. "
                                                           "'fail_rate(peak_15min_demand_kw <= 2500) <= 0.05'")] = None,
    rows_per_file: Annotated[int, typer.Option(help="write the table every this many finished runs (or every "
                                                    f"{FILE_EVERY_S:g} s); 1 keeps every finished run through a kill")]
    = ROWS_PER_FILE,
    serial: Annotated[bool, typer.Option("--serial", help="run in this process, without Dask (for debugging)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a sweep (Monte-Carlo seeds x parameters) on Dask; exits 1 if a statistical criterion fails."""
    from twin.app.sweep.execute import SweepStopped, dashboard_link, dask_client, kill_workers, stop_sweep
    from twin.app.sweep.table import done_keys
    from twin.run.signals import stop_on_signals
    from twin.app.sweep.study import SweepStudy
    from twin.config.sweep import load_sweep, parse_stat_criterion

    if workers is not None and workers < 1:
        raise ScenarioError(None, "--workers", "must be at least 1")
    if rows_per_file < 1:
        raise ScenarioError(None, "--rows-per-file", "must be at least 1")
    if (find_min is None) != (subject_to is None):
        raise ScenarioError(None, "--find-min" if find_min is None else "--subject-to",
                            "--find-min and --subject-to go together")
    if serial and scheduler:
        raise ScenarioError(None, "--serial", "--serial runs without Dask; leave out --scheduler")
    sweep = load_sweep(sweep_file)
    criterion = None
    if subject_to is not None:
        try:
            criterion = parse_stat_criterion(subject_to)
        except ValueError as exc:
            raise ScenarioError(None, "--subject-to", str(exc)) from None
    study = SweepStudy(sweep, out or Path("results") / "sweeps" / sweep.spec.name, keep_runs, rows_per_file)
    study.prepare(find_min)  # every point checked before a cluster starts
    if not quiet:
        err_console.print(f"[bold]{sweep.spec.name}[/]: {study.describe(find_min)}")
    bar, update = progress_bar(quiet)
    started = time.perf_counter()

    def run(client: Any) -> None:
        if client is not None and not quiet:
            link = dashboard_link(client)
            err_console.print(f"Dask: {len(client.scheduler_info().get('workers', {}))} workers at "
                              f"{client.scheduler.address}" + (f", dashboard {link}" if link else " (no dashboard: bokeh is not installed)"))
        if bar:
            bar.start()
        try:
            if find_min is not None:
                study.find_min(find_min, criterion, client, update)
            else:
                study.run(client, update)
        finally:
            if bar:
                bar.stop()

    try:
        with stop_on_signals(stop_sweep, on_second=kill_workers):
            if serial:
                run(None)
            else:
                with dask_client(scheduler, workers) as client:
                    run(client)
    except SweepStopped as stopped:
        print(f"sweep stopped ({stopped.reason}): {len(done_keys(study.out_dir))} runs kept in "  # plain: no wrapping
              f"{study.out_dir / 'runs'}, no summary written; run the same command again to resume", file=sys.stderr)
        raise typer.Exit(130) from None
    summary = study.finish(time.perf_counter() - started)
    print_points(study.points, study.params)
    if study.bisection is not None:
        b = study.bisection
        tried = ", ".join(f"{v:g} {'pass' if ok else 'fail'}" for v, ok in b.tried.items())
        answer = "none in the range" if b.answer is None else f"{b.answer:g}"
        console.print(f"smallest {b.param} with {criterion.text}: [bold]{answer}[/]  (tried {tried})")
    console.print(f"{study.tally_text()}; summary: {summary}, table: {study.out_dir / 'runs'}")
    if not study.passed:
        raise typer.Exit(1)


def bench_sweep_command(
    runs: Annotated[int, typer.Option(help="runs per measurement")] = 40,
    duration: Annotated[str, typer.Option(help="simulated span of each run")] = "24h",
) -> None:
    """Sweep speed: runs per minute on 1 and 2 Dask workers, scheduler overhead per task."""
    from twin.app.sweep.bench import bench_sweep

    bench_sweep(runs=runs, duration=duration, echo=console.print)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("sweep")(sweep_command)
    bench_app.command("sweep")(bench_sweep_command)

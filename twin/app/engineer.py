"""The engineer's commands: ``validate`` (with plausibility warnings), ``grid``, ``reference``, ``compare``.

Registered on the main ``satwin`` app by ``twin.app.cli``; kept here so the core CLI
module stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from twin.config.errors import ScenarioError

console = Console()
err_console = Console(stderr=True)


def validate(
    files: Annotated[list[Path], typer.Argument(help="site, scenario, sweep or published-figures files (or built-in scenario names)")],
    strict: Annotated[bool, typer.Option("--strict", help="treat warnings as errors (exit 2)")] = False,
) -> None:
    """Check site, scenario and published-figures files: exits 2 at the first mistake (an empty file or one
    of no known kind is a mistake); warns about sites that look wrong."""
    from twin.app.validate import check_file
    from twin.config.plausibility import scenario_warnings, site_warnings

    warned = 0
    for path in files:
        kind, loaded = check_file(path)
        warnings = {"scenario": scenario_warnings, "site": site_warnings}.get(kind, lambda _: [])(loaded)
        for warning in warnings:
            # plain print: a rich console would wrap the path and field
            print(f"warning: {path}: {warning}", file=typer.get_text_stream("stderr"))
        warned += len(warnings)
        console.print(f"ok  {path} ({kind}{f', {len(warnings)} warning' + 's' * (len(warnings) > 1) if warnings else ''})")
    if strict and warned:
        raise ScenarioError(None, "--strict", f"{warned} warning{'s' * (warned > 1)} (see above)")


def reference(
    write: Annotated[bool, typer.Option("--write", help="regenerate the docs in docs/")] = False,
    check: Annotated[bool, typer.Option("--check", help="exit 1 if a generated doc is stale")] = False,
) -> None:
    """The site-file reference and the data dictionary, generated from the code (docs/site-reference.md,
    docs/data-dictionary.md)."""
    from twin.app.reference import site_reference_md, stale_docs, write_docs

    if write:
        for path in write_docs():
            console.print(f"wrote {path}")
    elif check:
        stale = stale_docs()
        for path in stale:
            console.print(f"stale: {path} (run satwin reference --write)")
        if stale:
            raise typer.Exit(1)
        console.print("generated docs are up to date")
    else:
        typer.echo(site_reference_md())


def grid(
    site: Annotated[Optional[Path], typer.Argument(help="site file (.toml); or give --from")] = None,
    export: Annotated[Optional[Path], typer.Option(help="write the pandapower network as JSON here")] = None,
    from_results: Annotated[Optional[Path], typer.Option("--from", help="a results folder: the network of one recorded step")] = None,
    at: Annotated[str, typer.Option(help="with --from: local time of day (18:00) or time since the start (18h)")] = "12:00",
    plot: Annotated[Optional[Path], typer.Option(help="draw the one-line diagram (PNG) here")] = None,
) -> None:
    """The site's pandapower network: solved at no load, or at one recorded step (--from); export or draw it."""
    import numpy as np

    from twin.config.site import load_site
    from twin.model.grid import Grid, injection_points

    from twin.app.paths import writable_file

    if export:
        writable_file(export, "--export")  # before the network is built
    if (site is None) == (from_results is None):
        raise ScenarioError(None, "SITE", "give a site file or --from RESULTS (one of them)")
    if from_results is not None:
        from twin.app.grid_export import recorded_step

        step = recorded_step(from_results, at)
        network, loaded = step.twin.grid, step.twin.site
        state = network.run_pandapower(step.p_kw, step.q_kvar)
        deviation = float(np.abs(state.v_pu - step.recorded_v_pu).max())
        console.print(f"{loaded.name} at t = {step.t_s:g} s (the step ending then): pandapower.runpp gives the "
                      f"recorded bus voltages within {deviation:.1e} pu")
    else:
        loaded = load_site(site)
        points = injection_points(loaded)
        network = Grid(loaded, points, backend="pandapower")
        state = network.solve(np.zeros(len(points)), np.zeros(len(points)))
        console.print(f"{loaded.name}: {len(network.net.bus)} buses, {len(network.net.line)} lines, "
                      f"{len(network.net.trafo)} transformers, {len(points)} injection points; "
                      f"no-load voltage {state.v_pu.min():.4f}-{state.v_pu.max():.4f} pu")
    if export:
        network.export_json(export)
        console.print(f"wrote {export} (open with pandapower.from_json)")
    if plot:
        from twin.results.one_line import draw_one_line

        draw_one_line(loaded, plot, state=state if from_results is not None else None, bus_names=network.bus_names, line_names=network.line_names,
                      trafo_names=network.trafo_names, out_of_service=network.out_of_service)
        console.print(f"wrote {plot}")


def compare(
    runs: Annotated[list[Path], typer.Argument(help="results folders; the first is the reference")],
    out: Annotated[Path, typer.Option(help="write comparison.md, comparison.html and comparison.png here")] = Path(
        "comparison"),
) -> None:
    """Two or more runs side by side: KPIs and verdicts with differences, and an overlay plot."""
    from twin.results.side_by_side import kpi_rows, open_runs, write_comparison

    opened = open_runs(runs)
    md_path, html_path = write_comparison(opened, out)
    table = Table(title=f"{len(opened)} runs (differences against {opened[0].label})", header_style="bold")
    for name in ["figure", "unit", *[r.label for r in opened], *[f"Δ {r.label}" for r in opened[1:]]]:
        table.add_column(name, justify="left" if name in ("figure", "unit") else "right")
    for row in kpi_rows(opened):
        table.add_row(*row)
    console.print(table)
    console.print(f"wrote {md_path} and {html_path} (self-contained)")


def register(app: typer.Typer) -> None:
    for command in (validate, grid, reference, compare):
        app.command()(command)

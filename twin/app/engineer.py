"""The engineer's commands: ``validate`` (with plausibility warnings), ``grid``, ``reference``, ``compare``.

Registered on the main ``satwin`` app by ``twin.app.cli``; kept here so the core CLI
module stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from twin.config.errors import ScenarioError

console = Console()
err_console = Console(stderr=True)


def validate(
    files: Annotated[list[Path], typer.Argument(help="site or scenario files")],
    strict: Annotated[bool, typer.Option("--strict", help="treat warnings as errors (exit 2)")] = False,
) -> None:
    """Check site and scenario files: exits 2 at the first mistake; warns about sites that look wrong."""
    from twin.config.files import read_toml
    from twin.config.plausibility import scenario_warnings, site_warnings
    from twin.config.scenario import load_scenario
    from twin.config.site import load_site

    warned = 0
    for path in files:
        data = read_toml(path)
        if "site" in data:
            loaded = load_scenario(path)
            if loaded.compare is not None:
                from twin.results.published import published_figures

                published_figures(loaded)
            warnings, kind = scenario_warnings(loaded), "scenario"
        elif "buses" in data:
            warnings, kind = site_warnings(load_site(path)), "site"
        else:
            console.print(f"--  {path} (neither a site nor a scenario file; not checked)")
            continue
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
) -> None:
    """Build the site's pandapower network, solve it at no load, optionally export it."""
    import numpy as np

    from twin.config.site import load_site
    from twin.model.grid import Grid, injection_points

    if site is None:
        raise ScenarioError(None, "SITE", "give a site file")
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


def register(app: typer.Typer) -> None:
    for command in (validate, grid, reference):
        app.command()(command)

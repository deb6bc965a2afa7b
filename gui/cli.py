"""``satwin gui``: added to the ``satwin`` command line through the ``satwin.commands`` entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from twin.config.errors import ScenarioError


def register(app: typer.Typer) -> None:
    if any(command.name == "gui" for command in app.registered_commands):
        return  # ``python -m gui`` registers before the installed entry point does
    app.command("gui")(gui)
    from twin.app.cli import bench_app

    bench_app.command("gui")(bench_gui)


def gui(
    target: Annotated[Optional[Path], typer.Argument(
        help="scenario file (.toml) to run live, or a results folder to replay")] = None,
    attach: Annotated[Optional[str], typer.Option(help="watch a running `satwin serve` at HOST:PORT")] = None,
    speed: Annotated[float, typer.Option(help="live: simulated seconds per wall second")] = 60.0,
    controller: Annotated[Optional[str], typer.Option(help="live: controller (default: the scenario's)")] = None,
    duration: Annotated[Optional[str], typer.Option(help="live: simulated span, e.g. 2h")] = None,
    step: Annotated[Optional[str], typer.Option(help="live: step length, e.g. 1s")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="live: results folder (default results/<scenario>-<controller>-<time>)")] = None,
    start: Annotated[bool, typer.Option("--start/--no-start", help="live: start running at once")] = True,
    screenshot: Annotated[Optional[Path], typer.Option(help="render the view to this PNG and exit")] = None,
    screenshot_site: Annotated[Optional[Path], typer.Option(
        help="live/replay: render the site view (one-line diagram) alone to this PNG and exit")] = None,
    compare: Annotated[Optional[Path], typer.Option(
        help="replay: a second results folder whose grid import, battery SoC and EV power are drawn over the first")] = None,
    span: Annotated[Optional[str], typer.Option(
        help="replay/attach: width of the view, e.g. 6h (default: the whole run)")] = None,
    at: Annotated[Optional[str], typer.Option(
        help="with --screenshot: simulated time to capture, e.g. 18h (live: run until then; replay: cursor there)")] = None,
) -> None:
    """Desktop GUI: run a scenario live, or replay a results folder, with time-aligned plots."""
    from gui.windows.app import attach_window, live_window, qt_app, replay_window, show
    from twin.app.cli import load_with_options, span_option

    at_s = span_option(at, "--at")
    if compare is not None and (target is None or not target.is_dir()):
        raise ScenarioError(None, "--compare", "compares two recorded runs: give a results folder to replay first")
    if attach is not None:
        if screenshot_site is not None:
            raise ScenarioError(None, "--screenshot-site", "an attached view has no site view (no bus voltages "
                                "or loadings over Modbus)")
        if target is not None:
            raise ScenarioError(None, "--attach", "give either TARGET or --attach HOST:PORT, not both")
        host, port = _attach_address(attach)
        qt_app(headless=screenshot is not None)
        window = attach_window(host, port, span_option(span, "--span"))
        code = show(window, True, screenshot, at_s)
        if code:
            raise typer.Exit(code)
        return
    if target is None:
        raise ScenarioError(None, "TARGET", "give a scenario file to run live or a results folder to replay")
    headless = screenshot is not None or screenshot_site is not None
    qt_app(headless=headless)
    if target.is_dir():
        for folder in (target, compare) if compare is not None else (target,):
            if not (folder / "run.json").exists():
                raise ScenarioError(folder, "run.json", "not a results folder (no run.json)")
        window = replay_window(target, compare)
        window.set_span(span_option(span, "--span"))
    else:
        from twin.run.session import default_out_dir

        scenario = load_with_options(target, controller=controller, step=step, duration=duration)
        window = live_window(scenario, out or default_out_dir(scenario, controller or scenario.controller),
                             speed, controller)
    code = show(window, start or headless, screenshot, at_s, screenshot_site)
    if code:
        raise typer.Exit(code)


def _attach_address(text: str) -> tuple[str, int]:
    """HOST:PORT checked, and a server answering there (one line and exit 2 otherwise)."""
    from gui.data.attach import AttachError, connect, parse_address

    try:
        host, port = parse_address(text)
    except AttachError as exc:
        raise ScenarioError(None, "--attach", str(exc)) from None
    try:
        connect(host, port).close()
    except ConnectionError:
        raise ScenarioError(None, "--attach", f"no Modbus server answers at {host}:{port} "
                            "(is `satwin serve` running there?)") from None
    return host, port


def bench_gui(
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 3600.0,
    duration: Annotated[str, typer.Option(help="simulated span on screen")] = "24h",
) -> None:
    """GUI redraws per second and the longest redraw, with a day of 1 s data on screen."""
    from gui.bench import bench_live
    from twin.app.cli import console, span_option

    bench_live(speed=speed, duration_s=span_option(duration, "--duration"), echo=console.print)

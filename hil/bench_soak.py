"""``satwin bench soak``: a long served run under polling load; do memory and descriptors stay flat?

The reference holiday scenario is served for ``days`` simulated days at ``speed`` while 10
clients in another process read every device's plain map at 10 Hz (as ``bench hil``). The
serving process samples its resident memory and open descriptors once a wall second; the
figures are the slope over the second half of the run (after warm-up), per simulated day.
Figures, never a pass/fail.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hil.bench import EVENING_PEAK, REFERENCE_SCENARIO, _poll_process
from hil.maps.site_map import register_map_of
from hil.serve import ServeOptions, serve
from twin.config.scenario import load_scenario

SCENARIO_MARGIN = 2.0  # the served scenario's length over the simulated days asked


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _wait_for_put(pollers: list, results, received: list) -> None:
    """The clients' figures, read before joining (a process with queued data cannot exit first)."""
    while not pollers:
        time.sleep(0.05)
    received.append(results.get())
    pollers[0].join()


def bench_soak(days: float = 7.0, speed: float = 3600.0, step_s: float = 10.0, n_clients: int = 10,
               rate_hz: float = 10.0, echo: Callable[[str], None] = print) -> dict[str, float]:
    duration_s = days * 86400.0
    wall_s = duration_s / speed
    # The clients' wall time ends the run, caught up or not. The scenario is longer than that: a
    # twin that finished first (the clients' process starts seconds later) would leave them polling
    # a closed server, and their last seconds would count as errors.
    scenario = load_scenario(REFERENCE_SCENARIO).with_options(
        start=dt.datetime.fromisoformat(EVENING_PEAK), duration_s=duration_s * SCENARIO_MARGIN, step_s=step_s)
    reg_map = register_map_of(scenario)
    units = [(d.unit_id, sum(p.count for p in reg_map.plain(d.unit_id))) for d in reg_map.devices]
    context = multiprocessing.get_context("spawn")  # the server thread is running: never fork
    results = context.Queue()
    pollers: list = []
    samples: list[tuple[float, float, int]] = []  # (wall s, RSS MB, descriptors)
    stop = threading.Event()  # the run ends with the clients (after the wall time asked), caught up or not

    def start_clients(port: int) -> None:
        poller = context.Process(target=_poll_process, args=(port, units, n_clients, rate_hz, wall_s, results))
        poller.start()
        pollers.append(poller)

    def sample() -> None:
        started = time.monotonic()
        # the run only: the finish after it (KPIs, plots: ~80 MB of matplotlib and a Parquet read)
        # made a flat run look like +7 MB per simulated day over the second half
        while not stop.wait(1.0):
            samples.append((time.monotonic() - started, _rss_mb(), _open_fds()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    echo(f"soak: {days:g} simulated days at {speed:g}x ({step_s:g} s steps, ~{wall_s:.0f} s wall), "
         f"{n_clients} clients polling {len(units)} devices at {rate_hz:g} Hz")
    watcher = threading.Thread(target=lambda: (_wait_for_put(pollers, results, received), stop.set()), daemon=True)
    received: list = []
    watcher.start()
    with tempfile.TemporaryDirectory() as out:
        result = serve(scenario, Path(out), port=0, options=ServeOptions(speed=speed), stop=stop,
                       on_listening=start_clients,
                       echo=lambda _: None)
    stop.set()  # a run that ended on its own ends the sampling too
    watcher.join(60)
    round_trips, errors = received[0] if received else ([], 0)
    t, rss, fds = (np.asarray(column, dtype=float) for column in zip(*samples)) if len(samples) > 4 else ([0.0],) * 3
    half = len(t) // 2
    # the pace the run kept, not the one asked: an overrunning twin simulates fewer days a wall second
    kept_s = result.stats.steps * step_s / result.stats.wall_s if result.stats.steps and result.stats.wall_s > 0 else speed
    sim_day_per_wall_s = kept_s / 86400.0
    rss_slope = float(np.polyfit(t[half:], rss[half:], 1)[0] / sim_day_per_wall_s) if half > 2 else float("nan")
    fd_slope = float(np.polyfit(t[half:], fds[half:], 1)[0] / sim_day_per_wall_s) if half > 2 else float("nan")
    rt = np.asarray(round_trips) * 1e3
    late = result.lateness_ms
    figures = {"steps": result.stats.steps, "rss_start_mb": float(rss[0]), "rss_end_mb": float(rss[-1]),
               "rss_slope_mb_per_day": rss_slope, "fds_start": float(fds[0]), "fds_end": float(fds[-1]),
               "fd_slope_per_day": fd_slope, "requests": len(rt), "errors": errors,
               "rt_p99_ms": float(np.percentile(rt, 99)) if len(rt) else float("nan"), **late}
    echo(f"ended with the clients ({result.status}): {result.stats.steps} steps "
         f"({result.stats.steps * step_s / 86400:.2f} simulated days) in {result.stats.wall_s:.0f} s wall")
    # a slope per day taken over minutes is mostly warm-up and noise: say how long it was taken over
    slope_days = float(t[-1] - t[half]) * sim_day_per_wall_s if half > 2 else 0.0
    figures["slope_over_days"] = slope_days
    caveat = " (extrapolated from under a simulated day: a trend, not a figure)" if slope_days < 1.0 else ""
    echo(f"RSS {figures['rss_start_mb']:.0f} -> {figures['rss_end_mb']:.0f} MB, slope over the second half "
         f"({slope_days:.2f} simulated days) {rss_slope:+.2f} MB per simulated day; open descriptors "
         f"{fds[0]:.0f} -> {fds[-1]:.0f}, slope {fd_slope:+.2f} per day{caveat}")
    echo(f"clients: {len(rt)} requests, {errors} errors, round trip p99 {figures['rt_p99_ms']:.2f} ms; "
         f"step lateness p99 {late.get('p99_ms', float('nan')):.2f} ms, overruns {late.get('overruns', 0)}; "
         f"machine load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return figures

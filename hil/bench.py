"""``satwin bench hil``: Modbus round trip under load, and step lateness while it lasts.

The twin serves the reference holiday scenario at the evening peak, paced 1:1 at 1 s
steps, in this process; 10 clients in a separate process (so they do not share the
server's interpreter lock) each read the whole plain map — one request per device — ten
times a second. Figures, never a pass/fail: targets are RT p99 < 5 ms, lateness p99 < 20 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pymodbus.client import AsyncModbusTcpClient

import scenarios
from hil.maps.site_map import register_map_of
from hil.serve import ServeOptions, serve
from twin.config.scenario import load_scenario

REFERENCE_SCENARIO = scenarios.REFERENCE
EVENING_PEAK = "2026-10-01T18:00:00+08:00"
CLIENT_TIMEOUT_S = 2.0


async def _poll_client(port: int, units: list[tuple[int, int]], rate_hz: float, until: float,
                       samples: list | None = None) -> tuple[list, int]:
    """Round trips (s) and errors of one client polling every unit at ``rate_hz`` until ``until``
    (``time.perf_counter``); ``samples`` also gets (start, failed) of each request."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=CLIENT_TIMEOUT_S, retries=0)
    await client.connect()
    round_trips, errors = [], 0
    due = time.perf_counter()
    # the clock, not the schedule, ends the loop: with a server that times out every request
    # (2 s each, 34 a round) a schedule advancing 0.1 s a round would poll for hours
    while time.perf_counter() < until:
        for unit_id, size in units:
            started = time.perf_counter()
            if started >= until:
                break
            try:
                response = await client.read_holding_registers(0, count=size, device_id=unit_id)
                failed = response.isError()
            except Exception:  # noqa: BLE001 - a failed request is counted, the bench goes on
                failed = True
            errors += failed
            round_trips.append(time.perf_counter() - started)
            if samples is not None:
                samples.append((started, failed))
        due += 1.0 / rate_hz
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    client.close()
    return round_trips, errors


def _poll_process(port: int, units: list[tuple[int, int]], n_clients: int, rate_hz: float, duration_s: float,
                  results: multiprocessing.Queue) -> None:
    async def main() -> list:
        until = time.perf_counter() + duration_s
        return await asyncio.gather(*(_poll_client(port, units, rate_hz, until) for _ in range(n_clients)))

    outcome = asyncio.run(main())
    results.put(([rt for rts, _ in outcome for rt in rts], sum(errors for _, errors in outcome)))


def bench_hil(duration_s: float = 20.0, n_clients: int = 10, rate_hz: float = 10.0, speed: float = 1.0,
              echo: Callable[[str], None] = print) -> dict[str, float]:
    scenario = load_scenario(REFERENCE_SCENARIO).with_options(
        start=dt.datetime.fromisoformat(EVENING_PEAK), duration_s=duration_s * speed + 5.0, step_s=1.0)
    reg_map = register_map_of(scenario)
    units = [(d.unit_id, sum(p.count for p in reg_map.plain(d.unit_id))) for d in reg_map.devices]
    context = multiprocessing.get_context("spawn")  # the server thread is running: never fork
    results = context.Queue()
    pollers: list = []

    def start_clients(port: int) -> None:
        poller = context.Process(target=_poll_process, args=(port, units, n_clients, rate_hz, duration_s, results))
        poller.start()
        pollers.append(poller)

    stop = threading.Event()
    with tempfile.TemporaryDirectory() as out:
        watcher = threading.Thread(target=lambda: (_wait_for(pollers), stop.set()), daemon=True)
        watcher.start()
        result = serve(scenario, Path(out), port=0, options=ServeOptions(speed=speed), stop=stop,
                       on_listening=start_clients, echo=lambda _: None)
    round_trips, errors = results.get(timeout=30)
    pollers[0].join(30)
    rt = np.asarray(round_trips) * 1e3
    figures = {"clients": n_clients, "requests": len(rt), "errors": errors,
               "rt_p50_ms": float(np.percentile(rt, 50)), "rt_p99_ms": float(np.percentile(rt, 99)),
               "rt_max_ms": float(rt.max()), **{f"lateness_{k}": v for k, v in result.lateness_ms.items()}}
    echo(f"Modbus round trip, {n_clients} clients x {len(units)} devices at {rate_hz:g} Hz for {duration_s:g} s: "
         f"{len(rt)} requests, {errors} errors, p50 {figures['rt_p50_ms']:.2f} ms, p99 {figures['rt_p99_ms']:.2f} ms, "
         f"max {figures['rt_max_ms']:.2f} ms (target p99 < 5 ms)")
    late = result.lateness_ms
    load_1min = os.getloadavg()[0]
    figures["load_avg_1min"] = load_1min
    echo(f"step lateness at {scenario.step_s:g} s steps, speed {speed:g}: p50 {late['p50_ms']:.2f} ms, "
         f"p99 {late['p99_ms']:.2f} ms, max {late['max_ms']:.2f} ms, overruns {late['overruns']} "
         f"(target p99 < 20 ms); machine load average {load_1min:.2f} on {os.cpu_count()} cores")
    return figures


def _wait_for(pollers: list) -> None:
    while not pollers:
        time.sleep(0.05)
    pollers[0].join()

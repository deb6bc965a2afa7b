"""``satwin bench ocpp``: every station of the freight site on OCPP, and step lateness meanwhile.

The reference CSMS runs in a separate process (so it does not share the stations'
interpreter lock); the twin serves the holiday peak from the evening peak at 1 s steps,
``speed`` x real time, with 10 s MeterValues. Figures, never a pass/fail: targets are step
lateness p99 < 20 ms and no message older than one sample interval.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import tempfile
from pathlib import Path

import numpy as np

from hil.ocpp.csms import Policy, ReferenceCsms
from hil.ocpp.stations import OcppOptions
from hil.serve import ServeOptions, serve
from twin.config.scenario import load_scenario

REFERENCE_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "holiday-peak-freight.toml"
EVENING_PEAK = "2026-10-01T18:00:00+08:00"


def _csms_process(ports: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    csms = ReferenceCsms(Policy(), port=0)
    ports.put(csms.start())
    stop.wait()
    csms.stop()


def bench_ocpp(wall_s: float = 60.0, speed: float = 10.0, sample_s: float = 10.0, version: str = "2.0.1",
               echo=print) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    csms = context.Process(target=_csms_process, args=(ports, stop), daemon=True)
    csms.start()
    try:
        port = ports.get(timeout=120)  # a spawned interpreter imports slowly on a busy machine
        scenario = load_scenario(REFERENCE_SCENARIO).with_options(
            start=dt.datetime.fromisoformat(EVENING_PEAK), duration_s=wall_s * speed, step_s=1.0)
        echo(f"bench ocpp: {scenario.name} from the evening peak, {wall_s:g} s wall at {speed:g}x, 1 s steps, "
             f"OCPP {version} MeterValues every {sample_s:g} s; reference CSMS in its own process")
        with tempfile.TemporaryDirectory() as out:
            ready: list = []
            served = serve(scenario, Path(out) / "run", port=0, options=ServeOptions(speed=speed), echo=lambda _t: None,
                           ocpp=OcppOptions(f"ws://127.0.0.1:{port}/bench", version, sample_s),
                           stations_ready=ready.append)
            links = ready[0].clients.links
    finally:
        stop.set()
        csms.join(10)
    trips_ms = np.concatenate([np.asarray(link.round_trips_s) for link in links.values()]) * 1e3
    ages_s = np.concatenate([np.asarray(link.ages_s) for link in links.values()])
    sent = sum(link.sent for link in links.values())
    figures = {"stations": len(links), "messages": sent, "messages_per_s": sent / max(served.stats.wall_s, 1e-9),
               "rt_p50_ms": float(np.percentile(trips_ms, 50)), "rt_p99_ms": float(np.percentile(trips_ms, 99)),
               "lateness_p99_ms": served.lateness_ms.get("p99_ms", float("nan")),
               "max_age_sim_s": float(ages_s.max() * speed) if ages_s.size else float("nan")}
    echo(f"{figures['stations']} stations, {sent} messages in {served.stats.wall_s:.1f} s wall: "
         f"{figures['messages_per_s']:.1f} messages/s")
    echo(f"CSMS round trip p50 {figures['rt_p50_ms']:.2f} ms, p99 {figures['rt_p99_ms']:.2f} ms")
    echo(f"step lateness p99 {figures['lateness_p99_ms']:.2f} ms (target < 20 ms)")
    echo(f"oldest message when answered: {figures['max_age_sim_s']:.2f} s simulated "
         f"(target < one sample interval, {sample_s:g} s)")
    return figures

"""``satwin bench abuse``: a well-behaved client's round trip while the Modbus server is attacked.

The reference holiday scenario is served at the evening peak, paced 1:1 at 1 s steps, in
this process. A good client in another process reads every device's plain map at 10 Hz
for the whole bench; an attacker in a third process runs one abuse per phase, with a quiet
phase before and after:

* ``malformed``: 10,000 frames of 12 kinds (headers that are not Modbus/TCP, random bytes,
  function codes outside the guide, truncated bodies, unknown units, addresses outside the
  map), each outcome counted (exception code, closed, answered, or no answer: wedged);
* ``idle``: 50 connections that send nothing; ``slowloris``: 30 that trickle a request a
  byte every 0.5 s; ``write flood``: 1,000 heartbeat writes a second, pipelined on 4
  connections.

Per phase it prints the good client's requests, errors and round trip p50/p99/max against
the targets (p99 within 2x the quiet phase's), then step lateness and the serving process's
descriptors and memory before and after. Figures, never a pass/fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import random
import struct
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hil.bench import EVENING_PEAK, REFERENCE_SCENARIO, _poll_client
from hil.bench_soak import _open_fds, _rss_mb
from hil.maps.site_map import register_map_of
from hil.serve import ServeOptions, serve
from hil.servers.limits import ConnectionLimits
from twin.config.scenario import load_scenario

PHASES = ("quiet", "malformed", "idle", "slowloris", "write flood", "quiet after")
MALFORMED_FRAMES = 10_000
IDLE_CONNECTIONS = 50
SLOWLORIS_CONNECTIONS = 30
WRITES_PER_S = 1000
WRITE_CONNECTIONS = 4
ANSWER_WAIT_S = 2.0  # no answer for this long: the connection is wedged
SETTLE_S = 1.0  # after the good client connected, before the first phase
POLL_SPAN_S = 2.0
# room for the attackers' connections, so the server holds them rather than refusing them at the cap
LIMITS = ConnectionLimits(max_connections=IDLE_CONNECTIONS + SLOWLORIS_CONNECTIONS + 20)


def _frame(tid: int, unit: int, pdu: bytes, protocol: int = 0, length: int | None = None) -> bytes:
    return struct.pack(">HHHB", tid, protocol, len(pdu) + 1 if length is None else length, unit) + pdu


def malformed_kinds(heartbeat_address: int) -> dict[str, Callable[[int], bytes]]:
    """Frame makers by kind (transaction id in); the ones that are not Modbus/TCP end the connection."""
    read = struct.pack(">BHH", 3, 0, 2)
    return {
        "protocol id 1": lambda tid: _frame(tid, 1, read, protocol=1),
        "length 0": lambda tid: _frame(tid, 1, read, length=0),
        "length 1": lambda tid: _frame(tid, 1, read, length=1),
        "length 65535": lambda tid: _frame(tid, 1, read, length=65535),
        "random bytes": lambda tid: random.randbytes(12),
        "function 8 (diagnostics)": lambda tid: _frame(tid, 1, struct.pack(">BHH", 8, 0, 0)),
        "function 43 (identification)": lambda tid: _frame(tid, 1, bytes([43, 14, 1, 0])),
        "function 0x81": lambda tid: _frame(tid, 1, bytes([0x81, 0, 0])),
        "truncated read": lambda tid: _frame(tid, 1, bytes([3, 0])),
        "unknown unit 200": lambda tid: _frame(tid, 200, read),
        "address outside the map": lambda tid: _frame(tid, 1, struct.pack(">BHH", 3, 9000, 2)),
        "write of a bad value": lambda tid: _frame(tid, 1, struct.pack(">BHHB", 16, heartbeat_address, 2, 4)
                                                   + b"\xff" * 4),
    }


async def _outcome(reader: asyncio.StreamReader) -> str:
    """What came back for one request: "exception NN", "answered", "closed" or "no answer (wedged)"."""
    try:
        header = await asyncio.wait_for(reader.readexactly(7), ANSWER_WAIT_S)
        body = await asyncio.wait_for(reader.readexactly(max(1, struct.unpack_from(">H", header, 4)[0] - 1)),
                                      ANSWER_WAIT_S)
    except asyncio.TimeoutError:
        return "no answer (wedged)"
    except (asyncio.IncompleteReadError, ConnectionError):
        return "closed"
    return f"exception {body[1]:02x}" if body[0] & 0x80 and len(body) > 1 else "answered"


async def _malformed(port: int, kinds: dict[str, Callable[[int], bytes]], frames: int, phase_s: float) -> Counter:
    """``frames`` frames over ``phase_s``, by 8 workers; a worker reconnects after a closed connection."""
    outcomes: Counter = Counter()
    names = list(kinds)
    workers = 8
    per_frame_s = phase_s * workers / frames

    async def worker(first: int) -> None:
        connection = None
        for n in range(first, frames, workers):
            started = time.monotonic()
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = connection
            kind = names[n % len(names)]
            writer.write(kinds[kind](n & 0xFFFF))
            result = await _outcome(reader)
            outcomes[(kind, result)] += 1
            if result in ("closed", "no answer (wedged)"):
                writer.close()
                connection = None
            await asyncio.sleep(max(0.0, per_frame_s - (time.monotonic() - started)))
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(worker(k) for k in range(workers)))
    return outcomes


async def _idle(port: int, phase_s: float) -> Counter:
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(IDLE_CONNECTIONS)]
    await asyncio.sleep(phase_s)
    for _, writer in connections:
        writer.close()
    return Counter({("idle connections held", "opened"): len(connections)})


async def _slowloris(port: int, phase_s: float) -> Counter:
    outcomes: Counter = Counter()
    until = time.monotonic() + phase_s

    async def trickle() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = _frame(1, 1, struct.pack(">BHH", 3, 0, 2))
        while time.monotonic() < until:
            for byte in request:
                if time.monotonic() >= until:
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(0.5)
            else:
                outcomes[("slowloris request", await _outcome(reader))] += 1
        writer.close()

    await asyncio.gather(*(trickle() for _ in range(SLOWLORIS_CONNECTIONS)))
    return outcomes


async def _write_flood(port: int, heartbeat_address: int, phase_s: float) -> Counter:
    """Heartbeat writes (function 6, unit 1) at ``WRITES_PER_S``, pipelined, answers read as they come."""
    outcomes: Counter = Counter()
    per_connection_hz = WRITES_PER_S / WRITE_CONNECTIONS

    async def flood() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        started = time.monotonic()

        async def answers() -> None:
            while True:
                result = await _outcome(reader)
                outcomes[("heartbeat write", result)] += 1
                if result in ("closed", "no answer (wedged)"):  # the server dropped the flood (or went silent)
                    return

        counting = asyncio.create_task(answers())
        while (elapsed := time.monotonic() - started) < phase_s and not counting.done():
            due = int(elapsed * per_connection_hz) + 1
            for _ in range(due - sent if not writer.is_closing() else 0):
                sent += 1
                writer.write(_frame(sent & 0xFFFF, 1, struct.pack(">BHH", 6, heartbeat_address, sent & 0xFFFF)))
            await asyncio.sleep(0.005)
        await asyncio.sleep(ANSWER_WAIT_S / 2)  # the last answers
        counting.cancel()
        outcomes[("heartbeat write", "sent")] += sent
        writer.close()

    await asyncio.gather(*(flood() for _ in range(WRITE_CONNECTIONS)))
    return outcomes


def _attacker(port: int, heartbeat_address: int, phase_s: float, frames: int, polling,
              out: multiprocessing.Queue) -> None:
    """Once the good client polls, runs the phases one after another; puts (phase, start, end,
    outcomes) for each, then None."""
    polling.wait(60.0)
    time.sleep(SETTLE_S)

    async def main() -> None:
        kinds = malformed_kinds(heartbeat_address)
        attacks = {"malformed": lambda: _malformed(port, kinds, frames, phase_s),
                   "idle": lambda: _idle(port, phase_s), "slowloris": lambda: _slowloris(port, phase_s),
                   "write flood": lambda: _write_flood(port, heartbeat_address, phase_s)}
        for phase in PHASES:
            started = time.perf_counter()  # the good client's clock (CLOCK_MONOTONIC, shared by processes)
            if phase in attacks:
                outcomes = await attacks[phase]()
            else:
                await asyncio.sleep(phase_s)
                outcomes = Counter()
            out.put((phase, started, time.perf_counter(), dict(outcomes)))

    asyncio.run(main())
    out.put(None)


def _good_client(port: int, units: list[tuple[int, int]], polling, done, out: multiprocessing.Queue) -> None:
    """Polls until ``done`` (in spans of ``POLL_SPAN_S``, each on a new connection, as phases can
    take longer than asked on a loaded machine); puts every request's (start, failed) and round trip."""
    samples: list[tuple[float, bool]] = []
    round_trips: list[float] = []
    polling.set()
    try:
        while not done.is_set():
            span, _ = asyncio.run(_poll_client(port, units, 10.0, time.perf_counter() + POLL_SPAN_S, samples))
            round_trips += span
    finally:
        out.put((samples, round_trips))


def bench_abuse(phase_s: float = 10.0, frames: int = MALFORMED_FRAMES,
                echo: Callable[[str], None] = print) -> dict[str, dict]:
    """Serve, attack phase by phase, print the good client's figures per phase; returns them."""
    scenario = load_scenario(REFERENCE_SCENARIO).with_options(  # served until the phases are over
        start=dt.datetime.fromisoformat(EVENING_PEAK), duration_s=86400.0, step_s=1.0)
    reg_map = register_map_of(scenario)
    units = [(d.unit_id, sum(p.count for p in reg_map.plain(d.unit_id))) for d in reg_map.devices]
    heartbeat = reg_map.point("site", "heartbeat").address
    context = multiprocessing.get_context("spawn")  # the server thread is running: never fork
    good_out, attack_out, polling, done = context.Queue(), context.Queue(), context.Event(), context.Event()
    processes: list = []
    resources: dict[str, tuple[int, float]] = {}
    received: dict[str, list] = {"phases": []}
    stop = threading.Event()

    def start_clients(port: int) -> None:
        processes.append(context.Process(target=_good_client, args=(port, units, polling, done, good_out)))
        processes.append(context.Process(target=_attacker, args=(port, heartbeat, phase_s, frames, polling,
                                                                 attack_out)))
        for process in processes:
            process.start()
        threading.Thread(target=collect, daemon=True).start()

    def collect() -> None:  # read the queues before joining (a process with queued data cannot exit first)
        while (item := attack_out.get()) is not None:
            if not received["phases"]:  # the quiet phase is over: the recording and the audit are open
                resources["before"] = (_open_fds(), _rss_mb())
            received["phases"].append(item)
        done.set()
        received["good"] = good_out.get()
        resources["after"] = _settled(resources["before"][0])
        for process in processes:
            process.join()
        stop.set()

    echo(f"abuse: the evening peak served at 1x, 1 s steps; a good client polls {len(units)} devices at 10 Hz; "
         f"phases of {phase_s:g} s: {', '.join(PHASES)} (--max-connections {LIMITS.max_connections})")
    with tempfile.TemporaryDirectory() as out:
        result = serve(scenario, Path(out), port=0, options=ServeOptions(speed=1.0), stop=stop,
                       on_listening=start_clients, echo=lambda _: None, limits=LIMITS)
    return _report(received, resources, result.lateness_ms, echo)


def _settled(fds_before: int) -> tuple[int, float]:
    """Descriptors and RSS once the server has closed the attackers' connections (at most 5 s)."""
    deadline = time.monotonic() + 5.0
    while _open_fds() > fds_before and time.monotonic() < deadline:
        time.sleep(0.1)
    return _open_fds(), _rss_mb()


def _report(received: dict, resources: dict, late: dict, echo: Callable[[str], None]) -> dict[str, dict]:
    samples, round_trips = received.get("good", ([], []))
    starts = np.asarray([s for s, _ in samples])
    failed = np.asarray([f for _, f in samples], dtype=bool)
    rt_ms = np.asarray(round_trips) * 1e3
    figures: dict[str, dict] = {}
    echo(f"{'phase':<12} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  attack outcomes")
    for phase, started, ended, outcomes in received["phases"]:
        inside = (starts >= started) & (starts < ended)
        rt = rt_ms[inside]
        row = {"requests": int(inside.sum()), "errors": int(failed[inside].sum()),
               "p50_ms": float(np.percentile(rt, 50)) if rt.size else float("nan"),
               "p99_ms": float(np.percentile(rt, 99)) if rt.size else float("nan"),
               "max_ms": float(rt.max()) if rt.size else float("nan"), "outcomes": outcomes}
        figures[phase] = row
        summary = "; ".join(f"{what}: {result} x{n}" for (what, result), n in sorted(_by_result(outcomes).items()))
        echo(f"{phase:<12} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} "
             f"{row['max_ms']:>7.2f}  {summary}")
    quiet = figures.get("quiet", {}).get("p99_ms", float("nan"))
    worst = max((row["p99_ms"] for row in figures.values()), default=float("nan"))
    echo(f"good client p99: quiet {quiet:.2f} ms, worst phase {worst:.2f} ms = {worst / quiet:.1f}x "
         f"(target at most 2x)")
    echo(f"step lateness p50 {late.get('p50_ms', float('nan')):.2f} ms, p99 {late.get('p99_ms', float('nan')):.2f} "
         f"ms, max {late.get('max_ms', float('nan')):.2f} ms, overruns {late.get('overruns', 0)} "
         f"(target p99 at most 20 ms)")
    fds_before, rss_before = resources.get("before", (0, 0.0))
    fds_after, rss_after = resources.get("after", (0, 0.0))
    echo(f"serving process: open descriptors {fds_before} after the quiet phase, {fds_after} after the last "
         f"(its attackers gone); RSS {rss_before:.0f} -> "
         f"{rss_after:.0f} MB; machine load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    figures["lateness"] = dict(late)
    return figures


def _by_result(outcomes: dict) -> Counter:
    """The malformed kinds summed by outcome (the kinds themselves are too many for one line)."""
    merged: Counter = Counter()
    for (what, result), n in outcomes.items():
        merged[("frames" if what not in ("idle connections held", "slowloris request", "heartbeat write")
                else what, result)] += n
    return merged

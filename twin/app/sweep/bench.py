"""``satwin bench sweep``: runs per minute on 1 and 2 Dask workers, and the scheduler's cost per task.

Runs are the passenger site's holiday day at 1 min steps (``--duration`` shortens them), each
with its own seed; the cluster's start-up is measured apart from the runs. The target of the
sweeps issue — 1,000 scenario-days at 1 min steps in 10 minutes on a 2-core machine — is
projected from the 2-worker rate.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import scenarios
from twin.app.sweep.execute import execute
from twin.app.sweep.expand import expand
from twin.app.sweep.study import schema_for
from twin.app.sweep.table import RowWriter
from twin.config.sweep import load_sweep
from twin.config.units import parse_duration_s

SCENARIO = scenarios.FOLDER / "holiday-peak-xianshan.toml"
TARGET_DAYS, TARGET_MIN = 1000, 10.0


def _noop(x: int) -> int:
    return x


def _tasks(folder: Path, runs: int, duration: str, seed: int):
    path = folder / f"bench-{seed}.toml"
    path.write_text(f'name = "bench"\nscenarios = ["{SCENARIO.as_posix()}"]\nseeds = {runs}\nseed = {seed}\n'
                    f'[set]\nstep = "1min"\nduration = "{duration}"\n')
    return expand(load_sweep(path))


def _timed(tasks, folder: Path, client) -> float:
    started = time.perf_counter()
    tally = execute(tasks, RowWriter(folder, schema_for(tasks)), client)
    if tally.failed:
        raise RuntimeError(f"{tally.failed} bench runs failed; see {folder}")
    return time.perf_counter() - started


def bench_sweep(runs: int = 40, duration: str = "24h", echo: Callable[[str], None] = print) -> dict[str, float]:
    from distributed import Client, LocalCluster

    days = parse_duration_s(duration) / 86400.0
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm_up, *serial = _tasks(folder, max(2, runs // 10) + 1, duration, 1)
        _timed([warm_up], folder / "warm-up", None)  # imports and caches, paid once per process
        wall_s = _timed(serial, folder / "serial", None)
        figures["serial_s_per_run"] = wall_s / len(serial)
        echo(f"serial, in this process: {len(serial)} runs of {duration} at 1 min in {wall_s:.1f} s "
             f"= {60 * len(serial) / wall_s:.1f} runs/min")
        for n in (1, 2):
            started = time.perf_counter()
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
                client.wait_for_workers(n)
                figures[f"startup_s_{n}"] = time.perf_counter() - started
                client.run(lambda: __import__("twin.run.session"))  # imports happen once per worker, not per run
                tasks = _tasks(folder, runs, duration, 100 + n)
                wall_s = _timed(tasks, folder / f"w{n}", client)
                figures[f"runs_per_min_{n}"] = 60 * runs / wall_s
                echo(f"{n} worker{'s' if n > 1 else ''}: {runs} runs in {wall_s:.1f} s = {figures[f'runs_per_min_{n}']:.1f} "
                     f"runs/min ({days * figures[f'runs_per_min_{n}']:.1f} scenario-days/min; cluster start {figures[f'startup_s_{n}']:.1f} s)")
                if n == 2:
                    k = 2000
                    started = time.perf_counter()
                    client.gather(client.map(_noop, range(k), pure=False))
                    figures["overhead_ms_per_task"] = (time.perf_counter() - started) / k * 1e3
                    echo(f"scheduler overhead: {figures['overhead_ms_per_task']:.2f} ms per task "
                         f"({k} empty tasks on 2 workers)")
    rate_days_per_min = days * figures["runs_per_min_2"]
    projected_min = TARGET_DAYS / rate_days_per_min
    figures["projected_min_1000_days"] = projected_min
    speedup = figures["runs_per_min_2"] / figures["runs_per_min_1"]
    echo(f"2 workers vs 1: {speedup:.2f}x")
    echo(f"projected: {TARGET_DAYS} scenario-days at 1 min steps in {projected_min:.1f} min on 2 workers "
         f"(target <= {TARGET_MIN:g} min: {'met' if projected_min <= TARGET_MIN else 'NOT met'})")
    return figures

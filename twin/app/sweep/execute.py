"""Running a sweep's tasks on Dask distributed (or serially, in this process).

A ``LocalCluster`` by default — one single-threaded worker process per core, on 127.0.0.1
— or an existing cluster when a scheduler address is given. Tasks are ``run_point`` over
small ``RunTask`` values; a worker that dies loses only the runs it had in flight, which
the scheduler re-runs elsewhere up to ``retries`` times. Rows are written as they arrive.

SIGINT or SIGTERM stops a sweep (``SweepStopped``, raised by the signal handler wherever the
main thread waits): the runs in flight are cancelled, the rows received are flushed, the
cluster is closed, and a re-run into the same folder skips the rows already there.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from twin.app.sweep.expand import RunTask
from twin.app.sweep.table import RowWriter
from twin.app.sweep.worker import run_point, task_row
from twin.config.errors import ScenarioError


@dataclass
class Tally:
    total: int
    done: int = 0
    failed: int = 0

    @property
    def left(self) -> int:
        return self.total - self.done


Progress = Callable[[Tally], None]


class SweepStopped(KeyboardInterrupt):
    """A stop signal during a sweep; unwinds like Ctrl-C (every ``finally`` runs), with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def stop_sweep(reason: str) -> None:
    """The request of ``twin.run.signals.stop_on_signals`` for a sweep: stop now, not after a run."""
    raise SweepStopped(reason)


def kill_workers() -> None:
    """A second signal: the worker processes go with the sweep (``os._exit`` would orphan them)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                memory_limit: str = "auto") -> Iterator[Any]:
    """A Dask ``Client``: of a new ``LocalCluster`` on 127.0.0.1, or of the cluster at ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise ScenarioError(None, "--scheduler", f"cannot reach a Dask scheduler at {scheduler} ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    # the dashboard needs bokeh; without it Dask would only warn, so ask for none
    dashboard = ":0" if importlib.util.find_spec("bokeh") else None
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=dashboard, memory_limit=memory_limit,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


def dashboard_link(client: Any) -> str | None:
    if not importlib.util.find_spec("bokeh"):
        return None
    try:
        return client.dashboard_link
    except Exception:  # no dashboard on this scheduler
        return None


def execute(tasks: Sequence[RunTask], writer: RowWriter, client: Any | None = None, retries: int = 2,
            progress: Progress | None = None) -> Tally:
    """Run ``tasks`` (on ``client``, or serially here when it is None); every row goes to ``writer``."""
    tally = Tally(len(tasks))

    def record(row: dict[str, Any]) -> None:
        writer.add(row)
        tally.done += 1
        tally.failed += row["status"] != "completed"
        if progress:
            progress(tally)

    try:
        if client is None:
            for task in tasks:
                row = run_point(task)
                if row["status"] == "interrupted":  # the run's own session took the signal: not a result
                    raise SweepStopped("stopped during a run")
                record(row)
        else:
            _on_cluster(tasks, client, retries, record)
    finally:
        writer.flush()
    return tally


def _on_cluster(tasks: Sequence[RunTask], client: Any, retries: int, record: Callable[[dict], None]) -> None:
    from distributed import as_completed

    futures = client.map(run_point, tasks, key=[f"satwin-run-{t.key}" for t in tasks], retries=retries, pure=False)
    task_of = {f.key: t for f, t in zip(futures, tasks)}
    try:
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # the worker died every time it was tried (KilledWorker) or could not unpickle
                row = lost_row(task_of[future.key], exc)
            future.release()
            record(row)
    finally:
        client.cancel(futures)


def lost_row(task: RunTask, exc: BaseException) -> dict[str, Any]:
    return {**task_row(task), "status": "failed", "passed": False, "error": f"{type(exc).__name__}: {exc}"}

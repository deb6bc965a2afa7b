"""One run of a sweep, as a Dask task: a plain function of a ``RunTask``, returning one table row.

It runs in a worker process (local or on another machine), reads the scenario and site
files itself and returns only numbers. Whatever goes wrong inside — a file a remote worker
cannot read, a diverged power flow, a bug — becomes a row with ``status = failed`` and the
error, so one bad point never stops a sweep.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from twin.app.sweep.expand import RunTask
from twin.config.metrics import KPI_LABELS
from twin.config.overrides import Origin
from twin.config.scenario import load_scenario

NUMERIC_KPIS = tuple(key for key, (_, _, fmt) in KPI_LABELS.items() if fmt)


def verdict_column(criterion: str) -> str:
    return f"criterion: {criterion}"


def task_row(task: RunTask) -> dict[str, Any]:
    """The columns that label a run's row (filled in by ``run_point``, or for a run that was lost)."""
    return {"scenario": task.scenario, "key": task.key, "point": task.point, "replicate": task.replicate,
            "seed": task.seed, **task.params}


def run_point(task: RunTask) -> dict[str, Any]:
    from twin.run.session import run_scenario  # the heavy part, imported in the worker

    started = time.perf_counter()
    row = task_row(task)
    try:
        scenario = load_scenario(task.scenario_path, task.overrides, Origin(task.origin_file, "parameters."))
        if task.run_dir:
            result = run_scenario(scenario, Path(task.run_dir))
        else:
            with tempfile.TemporaryDirectory(prefix="satwin-sweep-") as tmp:
                result = run_scenario(scenario, Path(tmp) / "run", report=False)
        row.update({key: result.kpis.get(key) for key in NUMERIC_KPIS})
        row.update({verdict_column(v.criterion): v.passed for v in result.verdicts})
        row.update(status=result.status, error=result.error, passed=result.passed)
    except Exception as exc:  # recorded, not raised: see the module docstring
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}", passed=False)
    row["wall_s"] = time.perf_counter() - started
    return row

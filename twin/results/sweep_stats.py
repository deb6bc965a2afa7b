"""Statistical verdicts over the runs of one sweep point: percentiles of a KPI, fail rates.

A fail rate comes with its Wilson score interval (95 %), which stays inside [0, 1] and is
honest for the small counts and rates near zero that sizing questions produce (the normal
approximation claims certainty at 0 of 20). The verdict compares the observed rate with the
threshold; the interval says how much the seeds could move it. A run that failed counts as
failing every fail-rate criterion and is left out of KPI statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from twin.config.criteria import holds
from twin.config.sweep import StatCriterion

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(failures: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``failures / n``."""
    if n == 0:
        return 0.0, 1.0
    p = failures / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class StatVerdict:
    criterion: str
    measured: float
    low: float  # 95 % interval of a fail rate (nan for a KPI statistic)
    high: float
    n: int  # runs the figure rests on
    passed: bool


def judge_stat(criterion: StatCriterion, rows: list[dict[str, Any]]) -> StatVerdict:
    """``criterion`` over the rows (runs) of one point."""
    completed = [r for r in rows if r.get("status") == "completed"]
    if criterion.run_criteria:
        failures = sum(1 for r in rows if r.get("status") != "completed" or not all(
            holds(c.op, _number(r.get(c.kpi_key)), c.threshold) for c in criterion.run_criteria))
        n = len(rows)
        measured = failures / n if n else math.nan
        low, high = wilson_interval(failures, n)
    else:
        values = np.array([_number(r.get(criterion.metric)) for r in completed], dtype=float)
        values = values[~np.isnan(values)]
        n = len(values)
        measured = _statistic(criterion, values) if n else math.nan
        low = high = math.nan
    return StatVerdict(criterion.text, measured, low, high, n, holds(criterion.op, measured, criterion.threshold))


def _statistic(criterion: StatCriterion, values: np.ndarray) -> float:
    if criterion.percentile is not None:
        return float(np.percentile(values, criterion.percentile))
    return float({"mean": np.mean, "min": np.min, "max": np.max}[criterion.statistic](values))


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass
class PointVerdicts:
    """The statistical criteria judged over the runs of one scenario at one parameter point."""

    scenario: str
    params: dict[str, Any]
    runs: int
    failed_runs: int
    verdicts: list[StatVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def judge_points(table: pa.Table, criteria: Sequence[StatCriterion], param_names: Sequence[str]) -> list[PointVerdicts]:
    """One ``PointVerdicts`` per (scenario, parameter point), in table order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        groups.setdefault((row["scenario"], *(row.get(n) for n in param_names)), []).append(row)
    judged = []
    for (scenario, *values), rows in groups.items():
        failed = sum(r["status"] != "completed" for r in rows)
        judged.append(PointVerdicts(scenario, dict(zip(param_names, values)), len(rows), failed,
                                    [judge_stat(c, rows) for c in criteria]))
    return judged

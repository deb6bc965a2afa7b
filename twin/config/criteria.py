"""Acceptance criteria: declarative lines such as ``grid_import_kw.max_15min <= 4000``.

A criterion names a metric, a comparison and a number. Metrics are the run's KPIs (by
their ``kpi.json`` key) or the readable aliases below; an unknown metric is a validation
error in the scenario file, so a typo never passes silently.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from twin.config.metrics import KPI_LABELS

ALIASES = {
    "grid_import_kw.max": "peak_grid_import_kw",
    "grid_import_kw.max_15min": "peak_15min_demand_kw",
    "bus_v_pu.min": "bus_v_pu_min",
    "bus_v_pu.max": "bus_v_pu_max",
    "bess_soc_pct.min": "bess_soc_min_pct",
    "queue_wait_min.p95": "queue_wait_min_p95",
    "queue_wait_min.mean": "queue_wait_min_mean",
    "trafo_loading_pct.max": "max_trafo_loading_pct",
    "line_loading_pct.max": "max_line_loading_pct",
}


OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


EQUAL_TOLERANCE = 1e-9


def holds(op: str, measured: float, threshold: float) -> bool:
    """Whether ``measured op threshold`` (``==`` within ``EQUAL_TOLERANCE``; NaN never holds)."""
    if op == "==":
        return abs(measured - threshold) <= EQUAL_TOLERANCE
    return bool(OPERATORS[op](measured, threshold))


_CRITERION = re.compile(r"^\s*([a-z0-9_.]+)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


def known_metrics() -> list[str]:
    numeric = [key for key, (_, _, fmt) in KPI_LABELS.items() if fmt]
    return sorted(set(ALIASES) | set(numeric))


@dataclass(frozen=True)
class Criterion:
    text: str
    metric: str
    op: str
    threshold: float

    @property
    def kpi_key(self) -> str:
        return ALIASES.get(self.metric, self.metric)


def parse_criterion(text: str) -> Criterion:
    match = _CRITERION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a criterion; write e.g. 'grid_import_kw.max_15min <= 4000'")
    metric, op, number = match.groups()
    if metric not in known_metrics():
        raise ValueError(f"unknown metric '{metric}' in '{text}' (known: {', '.join(known_metrics())})")
    return Criterion(text.strip(), metric, op, float(number))

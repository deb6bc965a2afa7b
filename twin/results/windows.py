"""When, and for how long, a criterion was violated: time windows from the recording.

A failed verdict that says only "measured 4,212" sends the vendor to the plot; the windows
say "from 18:02:10 for 6.1 min". For criteria on a quantity recorded each step (grid
import, 15-minute demand, bus voltage, state of charge, loadings) each window is a run of
consecutive steps on the wrong side of the threshold (``minutes_over_contract``: steps
above the contract, whatever the threshold in minutes). Whole-run figures (energy, queue
waits) have no windows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from pathlib import Path

import numpy as np

from twin.config.criteria import OPERATORS, Criterion
from twin.results.kpi import DEMAND_WINDOW_S
from twin.results.reader import Results, open_results, prefixed_columns

Series = Callable[[dict[str, np.ndarray]], np.ndarray]  # a per-step quantity from the recorded columns


def _prefix(table, prefix: str, reduce) -> np.ndarray:
    columns = [values for _, values in prefixed_columns(table, prefix)]
    return reduce(np.column_stack(columns), axis=1) if columns else np.zeros(table.num_rows)


def _demand_15min(col: dict[str, np.ndarray]) -> np.ndarray:
    """Each step's 15-minute billing-window mean (the value the window is billed at)."""
    window = np.floor((col["t_s"] - 1e-9) / DEMAND_WINDOW_S).astype(int)
    energy = np.bincount(window, weights=col["grid_p_kw"] * col["dt_s"])
    duration = np.bincount(window, weights=col["dt_s"])
    return (energy / np.maximum(duration, 1e-12))[window]


# kpi key -> the per-step quantity its criterion bounds
SERIES: dict[str, Series] = {
    "peak_grid_import_kw": lambda c: c["grid_p_kw"],
    "peak_15min_demand_kw": _demand_15min,
    "bess_soc_min_pct": lambda c: c["bess_soc_pct"],
    "bus_v_pu_min": lambda c: c["v_pu_min"],
    "bus_v_pu_max": lambda c: c["v_pu_max"],
    "max_trafo_loading_pct": lambda c: c["trafo_max"],
    "max_line_loading_pct": lambda c: c["line_max"],
}


def _columns(results: Results) -> dict[str, np.ndarray]:
    table = results.timeseries(("t_s", "dt_s", "grid_p_kw", "contract_limit_kw", "bess_soc_pct", "v_pu.",
                                          "trafo_loading_pct.", "line_loading_pct."))
    col = {name: table.column(name).to_numpy() for name in ("t_s", "dt_s", "grid_p_kw", "contract_limit_kw",
                                                            "bess_soc_pct")}
    v = _prefix(table, "v_pu.", lambda a, axis: a)
    col["v_pu_min"] = np.where(v > 0, v, np.inf).min(axis=1) if v.ndim == 2 else v  # de-energised is not low
    col["v_pu_max"] = v.max(axis=1) if v.ndim == 2 else v
    col["trafo_max"] = _prefix(table, "trafo_loading_pct.", np.max)
    col["line_max"] = _prefix(table, "line_loading_pct.", np.max)
    return col


def runs(t_end_s: np.ndarray, dt_s: np.ndarray, bad: np.ndarray) -> list[tuple[float, float]]:
    """(start s, end s) of each run of consecutive ``bad`` steps (a step covers ``t_end - dt .. t_end``)."""
    if not bad.any():
        return []
    edges = np.diff(np.concatenate(([0], bad.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(t_end_s[a] - dt_s[a]), float(t_end_s[b])) for a, b in zip(starts, ends)]


def violation_windows(results: Results | str | Path, criterion: Criterion) -> list[tuple[float, float]]:
    """Windows (simulated seconds since the start) in which ``criterion`` did not hold; [] when it has none."""
    key = criterion.kpi_key
    if key != "minutes_over_contract" and key not in SERIES:
        return []
    col = _columns(open_results(results))
    if key == "minutes_over_contract":
        bad = col["grid_p_kw"] > col["contract_limit_kw"]
    else:
        holds: Callable = OPERATORS[criterion.op] if criterion.op != "==" else operator.eq
        bad = ~holds(SERIES[key](col), criterion.threshold)
    return runs(col["t_s"], col["dt_s"], bad)

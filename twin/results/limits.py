"""How a run kept the site's ``[limits]``: minutes outside, worst values and when, per element.

Computed from the recorded time series (``v_pu.*``, ``line_loading_pct.*``,
``trafo_loading_pct.*``) and the limits of the site that ran (``resolved.json``), so a
replayed or killed run's folder gives the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

LIMIT_COLUMNS = ("v_pu.", "line_loading_pct.", "trafo_loading_pct.")


@dataclass(frozen=True)
class ElementLimit:
    """One bus or branch over the run."""

    element: str
    kind: str  # "voltage" or "loading"
    minutes_outside: float
    worst: float
    worst_t_s: float


def _matrix(ts: pa.Table, prefix: str) -> tuple[list[str], np.ndarray]:
    names = [n for n in ts.column_names if n.startswith(prefix)]
    values = np.column_stack([ts.column(n).to_numpy() for n in names]) if names else np.zeros((ts.num_rows, 0))
    return [n.removeprefix(prefix) for n in names], values


def element_limits(ts: pa.Table, limits: dict[str, float]) -> list[ElementLimit]:
    """Every bus and branch, with its minutes outside the limits and its worst value."""
    t_s, minutes = ts.column("t_s").to_numpy(), ts.column("dt_s").to_numpy() / 60.0
    found = []
    names, v = _matrix(ts, "v_pu.")
    live = v > 0  # de-energized buses are not low voltage
    deviation = np.where(live, np.maximum(limits["v_min_pu"] - v, v - limits["v_max_pu"]), -np.inf)
    for i, name in enumerate(names):
        if not live[:, i].any():
            continue
        k = int(np.argmax(np.abs(np.where(live[:, i], v[:, i] - 1.0, 0.0))))
        found.append(ElementLimit(name, "voltage", float(minutes[deviation[:, i] > 0].sum()), float(v[k, i]),
                                  float(t_s[k])))
    for prefix in ("line_loading_pct.", "trafo_loading_pct."):
        names, loading = _matrix(ts, prefix)
        for i, name in enumerate(names):
            k = int(np.argmax(loading[:, i]))
            found.append(ElementLimit(name, "loading", float(minutes[loading[:, i] > limits["max_loading_pct"]].sum()),
                                      float(loading[k, i]), float(t_s[k])))
    return found


def limit_kpis(ts: pa.Table, limits: dict[str, float], start: dt.datetime) -> dict[str, Any]:
    """Site-wide figures: minutes any element was outside, the worst loading and voltages, and when."""
    minutes = ts.column("dt_s").to_numpy() / 60.0

    def at(t_s: float) -> str:
        return (start + dt.timedelta(seconds=t_s)).isoformat(timespec="seconds")

    _, v = _matrix(ts, "v_pu.")
    live = v > 0
    outside = (live & ((v < limits["v_min_pu"]) | (v > limits["v_max_pu"]))).any(axis=1)
    loading = np.hstack([_matrix(ts, p)[1] for p in ("line_loading_pct.", "trafo_loading_pct.")])
    over = (loading > limits["max_loading_pct"]).any(axis=1) if loading.size else np.zeros(ts.num_rows, bool)
    kpis: dict[str, Any] = {"minutes_outside_voltage_band": float(minutes[outside].sum()),
                            "minutes_over_loading_limit": float(minutes[over].sum())}
    branches = [e for e in element_limits(ts, limits) if e.kind == "loading"]
    if branches:
        worst = max(branches, key=lambda e: e.worst)
        kpis.update(worst_loading_pct=worst.worst, worst_loading_element=worst.element,
                    worst_loading_at=at(worst.worst_t_s))
    if live.any():
        k, j = np.unravel_index(np.argmin(np.where(live, v, np.inf)), v.shape)
        kpis.update(bus_v_pu_min_bus=_matrix(ts, "v_pu.")[0][j], bus_v_pu_min_at=at(float(ts.column("t_s")[k].as_py())))
    return kpis


def limits_report_lines(ts: pa.Table, limits: dict[str, float], start: dt.datetime) -> list[str]:
    """The report's section on limits: the band, and every element that left it."""
    lines = ["## Limits", "",
             f"Site `[limits]`: voltage {limits['v_min_pu']:g}-{limits['v_max_pu']:g} pu on every energized bus, "
             f"loading at most {limits['max_loading_pct']:g} % on the feeder, every line and transformer. "
             "Each excursion is a `limit_violation` / `limit_cleared` event pair.", ""]
    outside = [e for e in element_limits(ts, limits) if e.minutes_outside > 0]
    if not outside:
        return lines + ["No element left its limits.", ""]
    lines += ["| element | limit | minutes outside | worst | at |", "|---|---|---:|---:|---|"]
    for e in sorted(outside, key=lambda e: -e.minutes_outside):
        worst = f"{e.worst:.4f} pu" if e.kind == "voltage" else f"{e.worst:.1f} %"
        when = (start + dt.timedelta(seconds=e.worst_t_s)).isoformat(timespec="seconds")
        lines.append(f"| {e.element} | {e.kind} | {e.minutes_outside:.1f} | {worst} | {when} |")
    return lines + [""]

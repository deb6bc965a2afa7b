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

from twin.results.reader import prefixed_columns

LIMIT_COLUMNS = ("v_pu.", "line_loading_pct.", "trafo_loading_pct.")


@dataclass(frozen=True)
class ElementLimit:
    """One bus or branch over the run."""

    element: str
    kind: str  # "voltage" or "loading"
    minutes_outside: float
    worst: float
    worst_t_s: float


def element_limits(ts: pa.Table, limits: dict[str, float]) -> list[ElementLimit]:
    """Every bus and branch, with its minutes outside the limits and its worst value."""
    t_s, minutes = ts.column("t_s").to_numpy(), ts.column("dt_s").to_numpy() / 60.0
    found = []
    for name, v in prefixed_columns(ts, "v_pu."):
        live = v > 0  # de-energized buses are not low voltage
        if not live.any():
            continue
        outside = live & (np.maximum(limits["v_min_pu"] - v, v - limits["v_max_pu"]) > 0)
        k = int(np.argmax(np.abs(np.where(live, v - 1.0, 0.0))))
        found.append(ElementLimit(name, "voltage", float(minutes[outside].sum()), float(v[k]), float(t_s[k])))
    for prefix in ("line_loading_pct.", "trafo_loading_pct."):
        for name, loading in prefixed_columns(ts, prefix):
            k = int(np.argmax(loading))
            found.append(ElementLimit(name, "loading", float(minutes[loading > limits["max_loading_pct"]].sum()),
                                      float(loading[k]), float(t_s[k])))
    return found


def limit_kpis(ts: pa.Table, limits: dict[str, float], start: dt.datetime) -> dict[str, Any]:
    """Site-wide figures: minutes any element was outside, the worst loading and voltages, and when."""
    minutes = ts.column("dt_s").to_numpy() / 60.0

    def at(t_s: float) -> str:
        return (start + dt.timedelta(seconds=t_s)).isoformat(timespec="seconds")

    outside = np.zeros(ts.num_rows, bool)
    lowest: tuple[float, int, int, str] | None = None  # (v_pu, row, bus index, bus): the first lowest, row by row
    for j, (name, v) in enumerate(prefixed_columns(ts, "v_pu.")):
        live = v > 0
        outside |= live & ((v < limits["v_min_pu"]) | (v > limits["v_max_pu"]))
        if live.any():
            k = int(np.argmin(np.where(live, v, np.inf)))
            lowest = min(lowest or (np.inf, 0, 0, name), (float(v[k]), k, j, name))
    over = np.zeros(ts.num_rows, bool)
    for prefix in ("line_loading_pct.", "trafo_loading_pct."):
        for _, loading in prefixed_columns(ts, prefix):
            over |= loading > limits["max_loading_pct"]
    kpis: dict[str, Any] = {"minutes_outside_voltage_band": float(minutes[outside].sum()),
                            "minutes_over_loading_limit": float(minutes[over].sum())}
    branches = [e for e in element_limits(ts, limits) if e.kind == "loading"]
    if branches:
        worst = max(branches, key=lambda e: e.worst)
        kpis.update(worst_loading_pct=worst.worst, worst_loading_element=worst.element,
                    worst_loading_at=at(worst.worst_t_s))
    if lowest is not None:
        _, k, _, bus = lowest
        kpis.update(bus_v_pu_min_bus=bus, bus_v_pu_min_at=at(float(ts.column("t_s")[k].as_py())))
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

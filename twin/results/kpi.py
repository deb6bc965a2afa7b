"""Key performance indicators of a run, computed from its results folder alone (a ``Results``).

Reading back the recorded Parquet (rather than accumulating during the run) means a
replayed, a killed or a remote run gets exactly the same figures.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from twin.config.metrics import KPI_LABELS
from twin.results.energy import ENERGY_COLUMNS, energy_kpis
from twin.results.limits import limit_kpis
from twin.results.reader import Results, open_results, prefixed_columns

DEMAND_WINDOW_S = 15 * 60  # utility demand is billed on 15-minute averages
KPI_COLUMNS = ("t_s", "dt_s", "grid_p_kw", "bess_p_kw", "bess_soc_pct", "ev_p_kw", "load_p_kw", "losses_kw",
               "tariff_cny_per_kwh", "contract_limit_kw", "delivered_kwh", "unserved_kwh", "arrived", "served",
               "balked", "reneged", "load_shed_kw", "islanded", "pv_p_kw.", "v_pu.", "trafo_loading_pct.",
               "line_loading_pct.", *ENERGY_COLUMNS)



def _columns_with_prefix(table, prefix: str) -> np.ndarray:
    columns = [values for _, values in prefixed_columns(table, prefix)]
    return np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))


def _max_of_columns(table, prefix: str) -> float:
    """Column by column: no matrix of a day's rows (``Results`` columns are views)."""
    return max((float(values.max(initial=0.0)) for _, values in prefixed_columns(table, prefix)), default=0.0)


def _live_voltage_range(table) -> tuple[float, float]:
    """Lowest voltage of an energized bus (de-energized buses are not low voltage) and highest
    of any bus; (0, 1) without buses or with none energized."""
    lows, highs = [], []
    for _, v in prefixed_columns(table, "v_pu."):
        live = v[v > 0]
        if live.size:
            lows.append(float(live.min()))
        if v.size:
            highs.append(float(v.max()))
    return (min(lows) if lows else 0.0), (max(highs) if highs else 1.0)


def compute_kpis(source: Results | str | Path) -> dict[str, Any]:
    results = open_results(source)
    meta = results.meta
    site = results.resolved["site"]
    ts = results.timeseries(KPI_COLUMNS)
    if ts.num_rows == 0:
        return {"steps": 0}
    col = {name: ts.column(name).to_numpy() for name in KPI_COLUMNS if not name.endswith(".")}
    hours = col["dt_s"] / 3600.0
    grid = col["grid_p_kw"]
    pv = _columns_with_prefix(ts, "pv_p_kw.").sum(axis=1)
    imported = np.clip(grid, 0, None) * hours
    exported = np.clip(-grid, 0, None) * hours
    pv_kwh = float((pv * hours).sum())
    consumption_kwh = float(((col["load_p_kw"] + col["ev_p_kw"]) * hours).sum())
    bess = col["bess_p_kw"]
    bess_dis = float((np.clip(bess, 0, None) * hours).sum())
    bess_ch = float((np.clip(-bess, 0, None) * hours).sum())
    e_kwh = meta.get("bess_e_kwh") or 0.0
    limit = float(col["contract_limit_kw"][-1])
    peak_i = int(np.argmax(grid))
    start = dt.datetime.fromisoformat(meta["start"])
    waits = _waits_min(results)
    ef = meta["grid_kg_co2_per_kwh"]
    v_min, v_max = _live_voltage_range(ts)
    delivered = float(col["delivered_kwh"][-1])
    unserved = float(col["unserved_kwh"][-1])
    kpis = {
        "peak_grid_import_kw": float(grid[peak_i]),
        "peak_grid_import_at": (start + dt.timedelta(seconds=float(col["t_s"][peak_i]))).isoformat(timespec="seconds"),
        "peak_15min_demand_kw": _peak_window_mean(col["t_s"], grid, hours),
        "contract_limit_kw": limit,
        "minutes_over_contract": float(col["dt_s"][grid > limit].sum() / 60.0),
        "energy_imported_kwh": float(imported.sum()),
        "energy_exported_kwh": float(exported.sum()),
        "pv_energy_kwh": pv_kwh,
        "pv_self_consumption_pct": 100.0 * (pv_kwh - float(exported.sum())) / pv_kwh if pv_kwh > 0 else 0.0,
        "self_sufficiency_pct": 100.0 * (1 - float(imported.sum()) / consumption_kwh) if consumption_kwh else 0.0,
        "bess_throughput_kwh": bess_dis,
        "bess_equivalent_cycles": (bess_dis + bess_ch) / 2.0 / e_kwh if e_kwh else 0.0,
        "bess_soc_min_pct": float(col["bess_soc_pct"].min()),
        "ev_energy_delivered_kwh": delivered,
        "unserved_ev_energy_kwh": unserved,
        "unserved_ev_energy_pct": 100.0 * unserved / (delivered + unserved) if delivered + unserved > 0 else 0.0,
        "vehicles_arrived": int(col["arrived"][-1]),
        "vehicles_served": int(col["served"][-1]),
        "vehicles_balked": int(col["balked"][-1]),
        "vehicles_reneged": int(col["reneged"][-1]),
        "queue_wait_min_mean": float(np.mean(waits)) if len(waits) else 0.0,
        "queue_wait_min_p95": float(np.percentile(waits, 95)) if len(waits) else 0.0,
        "bus_v_pu_min": v_min,
        "bus_v_pu_max": v_max,
        "max_trafo_loading_pct": _max_of_columns(ts, "trafo_loading_pct."),
        "max_line_loading_pct": _max_of_columns(ts, "line_loading_pct."),
        "losses_kwh": float((col["losses_kw"] * hours).sum()),
        "load_shed_kwh": float((col["load_shed_kw"] * hours).sum()),
        "minutes_islanded": float(col["dt_s"][col["islanded"] > 0].sum() / 60.0),
        "energy_cost_cny": float((imported * col["tariff_cny_per_kwh"]).sum() - exported.sum() * meta["export_cny_per_kwh"]),
        "co2_emitted_kg": float(imported.sum() * ef),
        "co2_avoided_kg": pv_kwh * ef,
        "ev_energy_grid_kwh": float((col["ev_p_kw"] * hours).sum()),
        **energy_kpis(ts, site, dict(col, pv_kwh=pv_kwh)),
        **limit_kpis(ts, site["limits"], start),
        "simulated_s": float(col["t_s"][-1]),
        "steps": int(ts.num_rows),
    }
    return kpis


def _peak_window_mean(t_s: np.ndarray, p_kw: np.ndarray, hours: np.ndarray) -> float:
    """Highest mean over the fixed 15-minute billing windows (the last one may be partial)."""
    window = np.floor((t_s - 1e-9) / DEMAND_WINDOW_S).astype(int)
    energy = np.bincount(window, weights=p_kw * hours)
    duration = np.bincount(window, weights=hours)
    return float((energy / np.maximum(duration, 1e-12)).max())


def _waits_min(results: Results) -> np.ndarray:
    events = results.events
    if events.num_rows == 0:
        return np.zeros(0)
    kind = np.asarray(events.column("kind").to_pylist())
    value = events.column("value").to_numpy(zero_copy_only=False)
    return value[(kind == "plug") | (kind == "swap")]


def write_kpis(source: Results | str | Path) -> dict[str, Any]:
    results = open_results(source)
    kpis = compute_kpis(results)
    (results.folder / "kpi.json").write_text(json.dumps(kpis, indent=2))
    return kpis


def format_kpi(key: str, value: Any) -> tuple[str, str, str]:
    """(label, value text, unit) for tables."""
    label, unit, fmt = KPI_LABELS.get(key, (key, "", ""))
    text = format(value, fmt) if fmt and isinstance(value, (int, float)) else str(value)
    return label, text, unit

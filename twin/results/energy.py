"""The energy balance of a run, with the change in stored battery energy made visible.

Two runs of one day are only comparable when the battery ends where it started: a
controller that leaves the battery fuller has imported that energy, and its
self-sufficiency "falls" for no fault of its own. So the balance reports the change in
stored energy, an import corrected to equal start and end SoC, and where energy was lost
(connectors, battery, network), with the residual that shows the balance closes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

ENERGY_COLUMNS = ("slack_p_kw", "charger_p_kw.", "bess_soc_pct")

DEFINITIONS = [
    "* **Self-sufficiency** = 1 − grid import / site consumption, where consumption is the building "
    "load plus EV charging (grid side) over the run.",
    "* **PV self-consumption** = 1 − grid export / PV energy.",
    "* **SoC-corrected import** = grid import − the change in stored battery energy, valued at the "
    "grid: a battery that ends fuller by ΔE could give back ΔE × η_discharge, one that ends emptier "
    "needs |ΔE| / η_charge (η = √ round-trip efficiency). Compare controllers on this figure.",
    "* **Residual** = (grid import at the substation − export + PV + battery discharge − battery charge) "
    "− (building load + EV charging + network losses): zero when the balance closes.",
]


def _kwh(p_kw: np.ndarray, hours: np.ndarray) -> float:
    return float((p_kw * hours).sum())


def energy_kpis(ts: pa.Table, resolved_site: dict[str, Any], col: dict[str, np.ndarray]) -> dict[str, Any]:
    """Balance figures of a run; ``col`` holds the scalar columns ``compute_kpis`` already read."""
    hours = col["dt_s"] / 3600.0
    connector_eff = {f"{g['name']}_{i + 1}": g["efficiency_pct"] / 100.0
                     for g in resolved_site["chargers"] for i in range(g["count"])}
    losses_kwh = 0.0
    for name, eff in connector_eff.items():
        column = f"charger_p_kw.{name}"
        if column in ts.column_names:
            losses_kwh += (1.0 - eff) * _kwh(ts.column(column).to_numpy(), hours)
    bess = resolved_site.get("bess")
    stored_kwh, corrected_kwh = 0.0, 0.0
    if bess:
        stored_kwh = (float(col["bess_soc_pct"][-1]) - bess["soc_init_pct"]) / 100.0 * bess["e_kwh"]
        eta = math.sqrt(bess["round_trip_eff_pct"] / 100.0)
        corrected_kwh = -stored_kwh * eta if stored_kwh > 0 else -stored_kwh / eta
    grid = col["grid_p_kw"]
    imported = _kwh(np.clip(grid, 0, None), hours)
    feeder_kwh = _kwh(ts.column("slack_p_kw").to_numpy() - grid, hours)
    bess_p = col["bess_p_kw"]
    bess_ac_kwh = _kwh(bess_p, hours)  # discharge positive: what the battery gave the site, net
    supply = _kwh(grid, hours) + feeder_kwh + col["pv_kwh"] + bess_ac_kwh
    demand = _kwh(col["load_p_kw"] + col["ev_p_kw"] + col["losses_kw"], hours)
    consumption = _kwh(col["load_p_kw"] + col["ev_p_kw"], hours)
    corrected_import = imported + corrected_kwh
    return {
        "bess_stored_change_kwh": stored_kwh,
        "bess_losses_kwh": -bess_ac_kwh - stored_kwh,
        "energy_imported_soc_corrected_kwh": corrected_import,
        "self_sufficiency_soc_corrected_pct": 100.0 * (1 - corrected_import / consumption) if consumption else 0.0,
        "charger_losses_kwh": losses_kwh,
        "feeder_losses_kwh": feeder_kwh,
        "site_network_losses_kwh": _kwh(col["losses_kw"], hours) - feeder_kwh,
        "energy_balance_residual_kwh": supply - demand,
    }


def energy_report_lines(kpis: dict[str, Any]) -> list[str]:
    def row(label: str, key: str) -> str:
        return f"| {label} | {kpis.get(key, 0.0):.1f} |"

    return ["## Energy balance", "", "| | kWh |", "|---|---:|",
            row("Grid import at the point of connection", "energy_imported_kwh"),
            row("Grid export", "energy_exported_kwh"),
            row("PV produced", "pv_energy_kwh"),
            row("Battery: change in stored energy (end − start)", "bess_stored_change_kwh"),
            row("Battery losses (charge and discharge)", "bess_losses_kwh"),
            row("EV charging, grid side", "ev_energy_grid_kwh"),
            row("Connector losses (grid to vehicle battery)", "charger_losses_kwh"),
            row("Network losses inside the site (transformers, cables)", "site_network_losses_kwh"),
            row("Feeder losses (utility side of the meter)", "feeder_losses_kwh"),
            row("Grid import, corrected to equal start and end SoC", "energy_imported_soc_corrected_kwh"),
            row("Residual (should be 0)", "energy_balance_residual_kwh"),
            "", *DEFINITIONS, ""]

"""Set a year run beside the figures published for the real site.

The run's own KPIs give the PV yield, self-consumption and grid import; savings and CO2
avoided come from a second run of the same scenario (same seed, so the same traffic) on
the site without PV and storage. The two runs are independent, so the baseline runs in a
second process beside the main run. Every simulated figure is computed from physics and
the site file: a published figure is shown beside it with its gap, never used to adjust it.

A figure published as an average over the plant's operating life (``life_years`` in the
published file) is compared with the first-year yield times the site's module
degradation over that many years (``[pv_degradation]``); the table says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from twin.config.errors import ScenarioError
from twin.config.files import read_toml
from twin.config.scenario import Scenario
from twin.config.site import PvDegradation

METRICS = {  # metric -> (label, unit, format)
    "pv_yield_mwh": ("Annual PV yield", "MWh", ".0f"),
    "pv_specific_kwh_per_kwp": ("Specific PV yield", "kWh/kWp", ".0f"),
    "pv_yield_lifetime_mwh": ("Annual PV yield, lifetime average", "MWh", ".0f"),
    "pv_specific_lifetime_kwh_per_kwp": ("Specific PV yield, lifetime average", "kWh/kWp", ".0f"),
    "pv_self_consumption_pct": ("PV self-consumption", "%", ".1f"),
    "self_sufficiency_pct": ("Self-sufficiency (hourly)", "%", ".1f"),
    "grid_import_mwh": ("Grid import", "MWh", ".0f"),
    "baseline_grid_import_mwh": ("Grid import without PV and storage", "MWh", ".0f"),
    "energy_cost_cny": ("Energy cost", "CNY", ".0f"),
    "baseline_energy_cost_cny": ("Energy cost without PV and storage", "CNY", ".0f"),
    "savings_cny": ("Energy cost savings", "CNY", ".0f"),
    "co2_avoided_t": ("CO2 avoided (grid import less export)", "t", ".0f"),
}


@dataclass(frozen=True)
class Row:
    metric: str
    label: str
    unit: str
    simulated: float
    published: float | None = None
    gap_pct: float | None = None  # (simulated - published) / published
    source: str = ""
    note: str = ""

    def cells(self) -> tuple[str, ...]:
        fmt = METRICS[self.metric][2]
        return (self.label, format(self.simulated, fmt),
                "" if self.published is None else format(self.published, fmt), self.unit,
                "" if self.gap_pct is None else f"{self.gap_pct:+.1f} %", self.source, self.note)


HEADER = ("figure", "simulated", "published", "unit", "difference", "source", "note")


def simulated_figures(kpis: dict[str, Any], baseline: dict[str, Any], kwp: float,
                      kg_co2_per_kwh: float) -> dict[str, float]:
    """The compared figures of a run and its no-PV/no-storage baseline (KPI dicts of ``twin.results.kpi``)."""
    def net_import_kwh(k: dict[str, Any]) -> float:
        return k["energy_imported_kwh"] - k["energy_exported_kwh"]

    return {
        "pv_yield_mwh": kpis["pv_energy_kwh"] / 1000.0,
        "pv_specific_kwh_per_kwp": kpis["pv_energy_kwh"] / kwp if kwp else 0.0,
        "pv_self_consumption_pct": kpis["pv_self_consumption_pct"],
        "self_sufficiency_pct": kpis["self_sufficiency_pct"],
        "grid_import_mwh": kpis["energy_imported_kwh"] / 1000.0,
        "baseline_grid_import_mwh": baseline["energy_imported_kwh"] / 1000.0,
        "energy_cost_cny": kpis["energy_cost_cny"],
        "baseline_energy_cost_cny": baseline["energy_cost_cny"],
        "savings_cny": baseline["energy_cost_cny"] - kpis["energy_cost_cny"],
        # exported PV displaces grid generation elsewhere, so it counts as avoided too
        "co2_avoided_t": (net_import_kwh(baseline) - net_import_kwh(kpis)) * kg_co2_per_kwh / 1000.0,
    }


LIFETIME_OF = {"pv_yield_lifetime_mwh": "pv_yield_mwh",  # lifetime metric -> its first-year metric
               "pv_specific_lifetime_kwh_per_kwp": "pv_specific_kwh_per_kwp"}


def with_lifetime_figures(simulated: dict[str, float], published: dict[str, dict[str, Any]],
                          degradation: PvDegradation) -> dict[str, float]:
    """Add the lifetime averages the published figures ask for, each after its first-year figure."""
    out: dict[str, float] = {}
    for metric, value in simulated.items():
        out[metric] = value
        for lifetime, first_year in LIFETIME_OF.items():
            if first_year == metric and lifetime in published:
                out[lifetime] = value * degradation.lifetime_factor(int(published[lifetime]["life_years"]))
    return out


def published_figures(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The published figures the scenario's ``[compare]`` table names, by metric."""
    ref = scenario.compare
    base = scenario.path.parent if scenario.path else Path.cwd()
    path = base / ref.published
    if not path.exists():
        raise ScenarioError(scenario.path, "compare.published", f"'{ref.published}' not found (looked at {path})")
    table = read_toml(path)
    if ref.key not in table:
        raise ScenarioError(path, ref.key, f"no published figures under '{ref.key}' (keys: {', '.join(table)})")
    figures: dict[str, dict[str, Any]] = {}
    listed = table[ref.key].get("figures", []) if isinstance(table[ref.key], dict) else None
    if not isinstance(listed, list):
        raise ScenarioError(path, f"{ref.key}.figures", "expected a list of figures, written [[KEY.figures]]")
    for i, figure in enumerate(listed):
        field = f"{ref.key}.figures[{i}]"
        if not isinstance(figure, dict):
            raise ScenarioError(path, field, "expected a table with metric, value, source and note")
        if figure.get("metric") not in METRICS:
            raise ScenarioError(path, f"{field}.metric",
                                f"unknown metric '{figure.get('metric')}' (choose from {', '.join(METRICS)})")
        if figure["metric"] in figures:
            raise ScenarioError(path, f"{field}.metric", f"'{figure['metric']}' is already given by an earlier figure")
        if not _is_number(figure.get("value")):
            raise ScenarioError(path, f"{field}.value", f"expected a number, got {figure.get('value')!r}")
        life_years = figure.get("life_years")
        if figure["metric"] in LIFETIME_OF and not (_is_number(life_years) and float(life_years).is_integer()
                                                    and life_years >= 1):
            raise ScenarioError(path, f"{field}.life_years",
                                f"a lifetime average needs the number of years it covers (a whole number >= 1), "
                                f"got {life_years!r}")
        figures[figure["metric"]] = figure
    return figures


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def comparison_rows(simulated: dict[str, float], published: dict[str, dict[str, Any]]) -> list[Row]:
    rows = []
    for metric, value in simulated.items():
        label, unit, _ = METRICS[metric]
        figure = published.get(metric)
        if figure is None:
            rows.append(Row(metric, label, unit, value))
            continue
        target = float(figure["value"])
        gap = 100.0 * (value - target) / target if target else None
        rows.append(Row(metric, label, unit, value, target, gap, figure.get("source", ""), figure.get("note", "")))
    return rows


YEAR_S = 365 * 86400.0


class BaselineRun(Protocol):
    """The no-PV/no-storage run beside a year run (``twin.run.baseline.Baseline``)."""

    def kpis(self) -> dict[str, Any]: ...


def covers_a_year(scenario: Scenario) -> bool:
    """Published figures are yearly: only a run of one year (a day either way) is set beside them."""
    return abs(scenario.duration_s - YEAR_S) <= 86400.0


def compare_run(scenario: Scenario, out_dir: Path, kpis: dict[str, Any], baseline: BaselineRun,
                published: dict[str, dict[str, Any]]) -> list[Row]:
    """Collect the baseline (``out_dir/baseline``), then write ``compare.json`` and the report section.

    ``published``: the scenario's published figures (``published_figures``), read before the run.
    """
    if not covers_a_year(scenario):
        published = {}
    base_kpis = baseline.kpis()
    site = scenario.site
    simulated = simulated_figures(kpis, base_kpis, sum(a.p_peak_kwp for a in site.pv),
                                  site.emissions.grid_kg_co2_per_kwh)
    rows = comparison_rows(with_lifetime_figures(simulated, published, site.pv_degradation), published)
    (out_dir / "compare.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    append_report_section(out_dir / "report.md", rows, scenario, published)
    return rows


def append_report_section(report: Path, rows: list[Row], scenario: Scenario,
                          published: dict[str, dict[str, Any]]) -> None:
    site = scenario.site
    lifetime = [f"{METRICS[m][0]}: first-year figure x {site.pv_degradation.lifetime_factor(int(f['life_years'])):.3f}, "
                f"the mean output over {f['life_years']} years ({site.pv_degradation.source})"
                for m, f in published.items() if m in LIFETIME_OF]
    lines = ["", "## Compared with the real site", "",
             f"Simulated from capacity, location and climate normals ({site.climate.source if site.climate else 'clear sky'}); "
             f"savings and CO2 avoided against the same run without PV and storage (`baseline/`), "
             f"tariff: {site.tariff.source}; grid emission factor {site.emissions.grid_kg_co2_per_kwh} kg/kWh "
             f"({site.emissions.source}). No simulated figure is adjusted to a published one.", "",
             *([] if covers_a_year(scenario) else [
                 f"**This run covers {scenario.duration_s / 86400:g} days, not a year: its figures are for that "
                 f"span and are not set beside the published yearly ones.**", ""]),
             *[f"- {line}" for line in lifetime], *([""] if lifetime else []),
             "| " + " | ".join(HEADER) + " |", "|---|---:|---:|---|---:|---|---|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    text = report.read_text() if report.exists() else ""
    report.write_text(text.rstrip("\n") + "\n" + "\n".join(lines) + "\n")

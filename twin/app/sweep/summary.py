"""``summary.md`` of a sweep with its PNG plots: KPI distributions, criteria with intervals, sizing curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from twin.config.sweep import StatCriterion  # noqa: E402
from twin.results.kpi import format_kpi  # noqa: E402
from twin.results.sweep_stats import PointVerdicts  # noqa: E402

DEFAULT_KPIS = ("peak_15min_demand_kw", "minutes_over_contract", "unserved_ev_energy_pct", "energy_cost_cny")
MAX_FAILED_SHOWN = 20


def kpis_to_show(criteria: Sequence[StatCriterion]) -> list[str]:
    return list(dict.fromkeys([c.metric for c in criteria] + list(DEFAULT_KPIS)))[:6]


def plot_distributions(table: pa.Table, kpis: Sequence[str], path: Path) -> None:
    rows = [r for r in table.to_pylist() if r["status"] == "completed"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    fig, axes = plt.subplots(1, len(kpis), figsize=(3.6 * len(kpis), 3.2), squeeze=False, constrained_layout=True)
    for ax, kpi in zip(axes[0], kpis):
        for name in scenarios:
            values = [r[kpi] for r in rows if r["scenario"] == name and r.get(kpi) is not None]
            if values:
                ax.hist(values, bins=min(30, max(5, len(values) // 5)), alpha=0.6, label=name)
        label, _, unit = format_kpi(kpi, 0)
        ax.set_xlabel(f"{label.strip()} [{unit}]" if unit else label.strip())
        ax.set_ylabel("runs")
    axes[0][0].legend(fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curve(points: Sequence[PointVerdicts], index: int, criterion: StatCriterion, param: str,
               table: pa.Table, path: Path, answer: float | None = None) -> bool:
    """The criterion's figure against ``param`` (a line per scenario), its threshold and, for
    fail rates, the 95 % interval; a KPI statistic also shows every run as a dot. False if
    there is nothing to draw (fewer than two numeric values)."""
    xs = sorted({p.params[param] for p in points if isinstance(p.params.get(param), (int, float))})
    if len(xs) < 2:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    for name in dict.fromkeys(p.scenario for p in points):
        mine = sorted((p for p in points if p.scenario == name), key=lambda p: p.params[param])
        x = np.array([p.params[param] for p in mine], dtype=float)
        y = np.array([p.verdicts[index].measured for p in mine])
        if criterion.run_criteria:
            low = np.array([p.verdicts[index].low for p in mine])
            high = np.array([p.verdicts[index].high for p in mine])
            ax.errorbar(x, y, yerr=[np.clip(y - low, 0, None), np.clip(high - y, 0, None)], marker="o", capsize=3, label=f"{name} (95 % interval)")
        else:
            runs = [r for r in table.to_pylist() if r["scenario"] == name and r.get(criterion.metric) is not None]
            ax.scatter([r[param] for r in runs], [r[criterion.metric] for r in runs], s=6, alpha=0.3)
            ax.plot(x, y, marker="o", label=f"{name}: {criterion.statistic} over seeds")
    ax.axhline(criterion.threshold, color="red", linestyle="--", label=f"limit {criterion.threshold:g}")
    if answer is not None:
        ax.axvline(answer, color="green", linestyle=":", label=f"smallest passing: {answer:g}")
    ax.set_xlabel(param)
    ax.set_ylabel(criterion.text.rsplit(criterion.op, 1)[0].strip())
    ax.set_title(criterion.text, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _interval(v) -> str:
    return "" if math.isnan(v.low) else f"{v.low:.3f}–{v.high:.3f}"


def write_summary(out_dir: Path, title: str, description: str, table: pa.Table, points: Sequence[PointVerdicts],
                  criteria: Sequence[StatCriterion], params: Sequence[str], facts: Sequence[str],
                  answer: tuple[str, float | None] | None = None) -> Path:
    lines = [f"# Sweep: {title}", ""] + ([description, ""] if description else [])
    lines += [f"* {fact}" for fact in facts] + [""]
    if answer is not None:
        found = "none in the range" if answer[1] is None else f"{answer[1]:g}"
        lines += [f"**Smallest {answer[0]} that passes: {found}**", ""]
    if criteria:
        passed = sum(p.passed for p in points)
        lines += ["## Criteria", "", f"{passed} of {len(points)} points pass every criterion "
                  "(fail rates with their 95 % Wilson interval; a failed run counts as failing).", "",
                  "| scenario | " + "".join(f"{p} | " for p in params) + "runs | criterion | measured | 95 % interval | verdict |",
                  "|---|" + "---:|" * len(params) + "---:|---|---:|---|---|"]
        for p in points:
            for v in p.verdicts:
                verdict = "pass" if v.passed else "**FAIL**"
                lines.append(f"| {p.scenario} | " + "".join(f"{p.params.get(n)} | " for n in params)
                             + f"{p.runs} | `{v.criterion}` | {v.measured:.4g} | {_interval(v)} | {verdict} |")
        lines.append("")
    kpis = kpis_to_show(criteria)
    lines += ["## KPI distributions (completed runs, all points)", "",
              "| scenario | figure | mean | p5 | p50 | p95 | max |", "|---|---|---:|---:|---:|---:|---:|"]
    rows = [r for r in table.to_pylist() if r["status"] == "completed"]
    for name in dict.fromkeys(r["scenario"] for r in rows):
        for kpi in kpis:
            values = np.array([r[kpi] for r in rows if r["scenario"] == name and r.get(kpi) is not None], dtype=float)
            if values.size:
                label, _, unit = format_kpi(kpi, 0)
                stats = [values.mean(), *np.percentile(values, [5, 50, 95]), values.max()]
                lines.append(f"| {name} | {label.strip()} [{unit}] | " + " | ".join(f"{s:.4g}" for s in stats) + " |")
    if rows:
        plot_distributions(table, kpis, out_dir / "kpi_distributions.png")
        lines += ["", "![KPI distributions](kpi_distributions.png)", ""]
    curves = []
    for i, criterion in enumerate(criteria):
        for param in params:
            name = f"curve-{i + 1}-{param.replace('.', '_').replace('[', '_').replace(']', '')}.png"
            shown = answer[1] if answer is not None and answer[0] == param else None
            if plot_curve(points, i, criterion, param, table, out_dir / name, shown):
                curves.append(f"![{criterion.text} against {param}]({name})")
    if curves:
        lines += ["## Against the parameters", ""] + [f"{c}\n" for c in curves]
    failed = [r for r in table.to_pylist() if r["status"] != "completed"]
    if failed:
        lines += [f"## Failed runs ({len(failed)})", "", "| scenario | seed | parameters | error |", "|---|---:|---|---|"]
        for r in failed[:MAX_FAILED_SHOWN]:
            shown = ", ".join(f"{n}={r.get(n)}" for n in params)
            lines.append(f"| {r['scenario']} | {r['seed']} | {shown} | {(r.get('error') or '').replace('|', '/')[:200]} |")
        if len(failed) > MAX_FAILED_SHOWN:
            lines.append(f"\n… and {len(failed) - MAX_FAILED_SHOWN} more (the table's `error` column has them all)")
    path = out_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path

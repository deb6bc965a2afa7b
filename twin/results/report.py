"""The human side of a results folder: ``plot.png`` and ``report.md``."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: CI and servers have no display
import matplotlib.pyplot as plt
import numpy as np

from twin.config.site import Site
from twin.model import disk_cache
from twin.results import one_line, one_line_layout
from twin.results.energy import energy_report_lines
from twin.results.kpi import KPI_LABELS, format_kpi
from twin.results.limits import LIMIT_COLUMNS, limits_report_lines
from twin.results.one_line import draw_one_line
from twin.results.reader import Results, open_results, prefixed_columns
from twin.results.verdicts import describe_windows


PLOT_COLUMNS = ("t_s", "grid_p_kw", "contract_limit_kw", "pv_available_kw.", "pv_p_kw.", "bess_p_kw", "bess_soc_pct",
                "ev_p_kw", "ev_cap_kw", "load_p_kw", "queue_len.", "dt_s", *LIMIT_COLUMNS)


ONE_LINE_CACHE_DIR = disk_cache.ROOT / "one-line"


@cache
def _one_line_version() -> str:
    return disk_cache.code_version((Path(one_line.__file__), Path(one_line_layout.__file__)), ("matplotlib",))


def write_one_line(site: Site, path: Path, cache_dir: Path | None = None) -> Path:
    """The site's one-line diagram (no power-flow state), drawn once a site (~0.3-0.5 s of
    matplotlib) and kept between processes: every run of a site writes the same picture."""
    entry = disk_cache.entry_path(cache_dir or ONE_LINE_CACHE_DIR, _one_line_version(), site.model_dump_json())

    def draw() -> bytes:
        draw_one_line(site, path)
        return path.read_bytes()

    path.write_bytes(disk_cache.kept(entry, bytes, draw))
    return path


def _sum_prefix(ts, prefix: str) -> np.ndarray:
    columns = [values for _, values in prefixed_columns(ts, prefix)]
    return np.sum(columns, axis=0) if columns else np.zeros(ts.num_rows)


PLOT_POINTS = 2000  # a curve longer than this is drawn as its min/max envelope over this many bins


def _envelope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each of ``PLOT_POINTS`` bins, in time order: the same picture at 990 px,
    every peak kept, for a fraction of the drawing time of 86,400 points."""
    n_bins = PLOT_POINTS
    if len(y) <= 2 * n_bins:
        return x, y
    per_bin = len(y) // n_bins
    n = per_bin * n_bins
    bins = y[:n].reshape(n_bins, per_bin)
    lo, hi = bins.argmin(axis=1), bins.argmax(axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    index = (np.arange(n_bins)[:, None] * per_bin + np.column_stack([first, second])).ravel()
    index = np.r_[index, np.arange(n, len(y))]
    return x[index], y[index]


def write_plot(source: Results | str | Path) -> Path:
    results = open_results(source)
    ts = results.timeseries(PLOT_COLUMNS)
    meta = results.meta
    t_h = ts.column("t_s").to_numpy() / 3600.0
    fig, axes = plt.subplots(7, 1, figsize=(11, 16), sharex=True)
    # fixed margins: constrained layout measured every tick label and took most of the time
    fig.subplots_adjust(left=0.07, right=0.93, top=0.95, bottom=0.05, hspace=0.3)
    # and titles at a given height (y=1.0 below): placing them "auto" measured every axis again
    fig.suptitle(f"{meta['scenario']} — {meta['site']} — controller: {meta['controller']}")

    def curve(ax, values, *style, **kwargs):
        return ax.plot(*_envelope(t_h, np.asarray(values, dtype=float)), *style, **kwargs)

    ax = axes[0]
    curve(ax, ts.column("grid_p_kw").to_numpy(), lw=0.8, label="grid import")
    curve(ax, ts.column("contract_limit_kw").to_numpy(), "r--", lw=1, label="contract limit")
    ax.set_ylabel("kW")
    ax.set_title("Grid import at the point of connection", loc="left", fontsize=9, y=1.0)

    ax = axes[1]
    curve(ax, _sum_prefix(ts, "pv_available_kw."), lw=0.8, color="orange", alpha=0.6, label="PV available")
    curve(ax, _sum_prefix(ts, "pv_p_kw."), lw=0.8, color="darkorange", label="PV produced")
    ax.set_ylabel("kW")
    ax.set_title("PV", loc="left", fontsize=9, y=1.0)

    ax = axes[2]
    curve(ax, ts.column("bess_p_kw").to_numpy(), lw=0.8, color="green", label="BESS power (discharge +)")
    ax.set_ylabel("kW")
    soc = ax.twinx()
    curve(soc, ts.column("bess_soc_pct").to_numpy(), lw=1, color="purple", label="SoC")
    soc.set_ylabel("SoC %")
    soc.set_ylim(0, 100)
    soc.legend(loc="upper right", fontsize=8)
    ax.set_title("Battery", loc="left", fontsize=9, y=1.0)

    ax = axes[3]
    curve(ax, ts.column("ev_p_kw").to_numpy(), lw=0.8, label="EV + swap charging")
    curve(ax, ts.column("ev_cap_kw").to_numpy(), lw=0.8, ls=":", color="gray", label="EV cap")
    curve(ax, ts.column("load_p_kw").to_numpy(), lw=0.8, label="service building")
    ax.set_ylabel("kW")
    ax.set_title("Loads", loc="left", fontsize=9, y=1.0)

    ax = axes[4]
    for name in [n for n in ts.column_names if n.startswith("queue_len.")]:
        ax.step(*_envelope(t_h, ts.column(name).to_numpy()), lw=0.8, where="post", label=name.split(".", 1)[1])
    ax.set_ylabel("vehicles")
    ax.set_title("Queue length", loc="left", fontsize=9, y=1.0)
    _limit_panels(axes[5], axes[6], ts, t_h, results.resolved["site"]["limits"])
    axes[6].set_xlabel("hours since scenario start")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    path = results.folder / "plot.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _limit_panels(loading_ax, voltage_ax, ts, hours: np.ndarray, limits: dict) -> None:
    """Branch loading (each transformer and the feeder) and the bus-voltage envelope, with the limits."""
    for prefix in ("trafo_loading_pct.", "line_loading_pct.utility_feeder"):
        for name in [n for n in ts.column_names if n.startswith(prefix)]:
            loading_ax.plot(*_envelope(hours, ts.column(name).to_numpy()), lw=0.8, label=name.split(".", 1)[1])
    loading_ax.axhline(limits["max_loading_pct"], color="r", ls="--", lw=1, label="max_loading_pct")
    loading_ax.set_ylabel("%")
    loading_ax.set_title("Loading of transformers and the feeder", loc="left", fontsize=9, y=1.0)
    names = [n for n in ts.column_names if n.startswith("v_pu.")]
    if names:
        v = np.column_stack([ts.column(n).to_numpy() for n in names])
        live = v > 0
        voltage_ax.plot(*_envelope(hours, np.where(live, v, np.inf).min(axis=1)), lw=0.8, label="lowest bus")
        voltage_ax.plot(*_envelope(hours, np.where(live, v, -np.inf).max(axis=1)), lw=0.8, label="highest bus")
    for key in ("v_min_pu", "v_max_pu"):
        voltage_ax.axhline(limits[key], color="r", ls="--", lw=1)
    voltage_ax.set_ylabel("pu")
    voltage_ax.set_title("Bus voltage envelope (energized buses) and the [limits] band", loc="left", fontsize=9, y=1.0)


def write_report(source: Results | str | Path, kpis: dict[str, Any], verdicts: list | None = None) -> Path:
    results = open_results(source)
    meta = results.meta
    events = results.events
    kinds = events.column("kind").to_pylist() if events.num_rows else []
    lines = [
        f"# {meta['scenario']}",
        "",
        f"{meta.get('description', '')}",
        "",
        "| | |",
        "|---|---|",
        f"| site | {meta['site']} |",
        f"| controller | {meta['controller']} |",
        f"| start | {meta['start']} |",
        f"| simulated | {kpis.get('simulated_s', 0) / 3600:.2f} h in {kpis.get('steps', 0)} steps of {meta['step_s']:g} s |",
        f"| seed | {meta['seed']} |",
        f"| power flow | {meta['backend']} |",
        f"| status | {meta['status']} |",
        f"| wall time | {meta.get('wall_s', 0):.1f} s |",
        "",
        "## Key figures",
        "",
        "| figure | value | unit |",
        "|---|---:|---|",
    ]
    for key in KPI_LABELS:
        if key in kpis:
            label, text, unit = format_kpi(key, kpis[key])
            lines.append(f"| {label.strip()} | {text} | {unit} |")
    if verdicts:
        overall = "PASS" if all(v.passed for v in verdicts) else "FAIL"
        lines += ["", f"## Acceptance criteria: {overall}", "", "| criterion | measured | verdict | when violated |",
                  "|---|---:|---|---|"]
        lines += [f"| `{v.criterion}` | {v.measured:.3f} | {'pass' if v.passed else '**FAIL**'} | "
                  f"{describe_windows(v.windows) or v.reason} |" for v in verdicts]
    if "writer_conflict" in kinds:
        details = [d for k, d in zip(kinds, events.column("detail").to_pylist()) if k == "writer_conflict"]
        lines += ["", "## Warnings", "", f"**More than one client wrote setpoints** ({len(details)} other "
                  "writer(s)): " + "; ".join(details) + ". Their setpoints may have alternated."]
    lines += ["", *energy_report_lines(kpis)]
    lines += limits_report_lines(results.timeseries(("dt_s", *LIMIT_COLUMNS)), results.resolved["site"]["limits"],
                                 dt.datetime.fromisoformat(meta["start"]))
    lines += ["## Events", "", "| kind | count |", "|---|---:|"]
    for kind in sorted(set(kinds)):
        lines.append(f"| {kind} | {kinds.count(kind)} |")
    if meta.get("lateness"):
        late = meta["lateness"]
        lines += ["", "## Pacing", "",
                  f"Step lateness against the wall clock: p50 {late['p50_ms']:.2f} ms, p99 {late['p99_ms']:.2f} ms, "
                  f"max {late['max_ms']:.1f} ms, {late['overruns']} overruns (steps later than one wall-clock step)."]
    write_one_line(Site.model_validate(results.resolved["site"]), results.folder / "one-line.png")
    lines += ["", "## Plot", "", "![plot](plot.png)", "", "## One-line diagram", "", "![one-line](one-line.png)", ""]
    path = results.folder / "report.md"
    path.write_text("\n".join(lines))
    return path

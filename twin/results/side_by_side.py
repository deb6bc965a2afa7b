"""Two or more runs side by side (``satwin compare``): KPIs and verdicts with differences, and
an overlay plot of grid import, battery SoC and EV power, as Markdown and one self-contained
HTML file (the plot inlined as a data URI, so it can be mailed or attached to a ticket).

The first run is the reference: every difference is "this run minus the first".
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from twin.config.errors import ScenarioError
from twin.config.metrics import KPI_LABELS
from twin.results.kpi import format_kpi
from twin.results.reader import Results

OVERLAY = (("grid_p_kw", "Grid import", "kW"), ("bess_soc_pct", "Battery SoC", "%"), ("ev_p_kw", "EV + swap charging", "kW"))


@dataclass
class Run:
    label: str
    results: Results
    kpis: dict[str, Any]
    verdicts: list[dict[str, Any]]


def open_runs(folders: list[Path]) -> list[Run]:
    """Each folder as a ``Run``; a folder that is not a finished results folder is a user mistake."""
    if len(folders) < 2:
        raise ScenarioError(None, "RUNS", "give at least two results folders to compare")
    runs, labels = [], set()
    for folder in folders:
        if not (folder / "run.json").exists():
            raise ScenarioError(folder, None, "not a results folder (no run.json)")
        if not (folder / "kpi.json").exists():
            raise ScenarioError(folder, None, "the run has no kpi.json (still running, or killed before its end)")
        results = Results(folder)
        label = folder.name if folder.name not in labels else str(folder)
        labels.add(label)
        runs.append(Run(label, results, json.loads((folder / "kpi.json").read_text()), results.verdicts))
    return runs


def _difference(key: str, first: Any, value: Any) -> str:
    if isinstance(first, bool) or not isinstance(first, (int, float)) or not isinstance(value, (int, float)):
        return ""
    fmt = KPI_LABELS.get(key, ("", "", ".4g"))[2] or ".4g"
    delta = value - first
    return f"{delta:+{fmt.lstrip('+')}}" if fmt != "d" else f"{delta:+d}"


def kpi_rows(runs: list[Run]) -> list[list[str]]:
    """[label, unit, value of each run, difference of each run after the first]."""
    rows = []
    for key, (label, unit, _fmt) in KPI_LABELS.items():
        if not any(key in run.kpis for run in runs):
            continue
        values = [format_kpi(key, run.kpis[key])[1] if key in run.kpis else "—" for run in runs]
        first = runs[0].kpis.get(key)
        diffs = [_difference(key, first, run.kpis.get(key)) for run in runs[1:]]
        rows.append([label.strip(), unit, *values, *diffs])
    return rows


def verdict_rows(runs: list[Run]) -> list[list[str]]:
    criteria = list(dict.fromkeys(v["criterion"] for run in runs for v in run.verdicts))
    rows = []
    for criterion in criteria:
        cells = []
        for run in runs:
            found = next((v for v in run.verdicts if v["criterion"] == criterion), None)
            cells.append("—" if found is None else f"{'pass' if found['passed'] else 'FAIL'} ({found['measured']:.4g})")
        rows.append([criterion, *cells])
    return rows


def overlay_png(runs: list[Run]) -> bytes:
    fig, axes = plt.subplots(len(OVERLAY), 1, figsize=(11, 8), sharex=True, constrained_layout=True)
    for run in runs:
        ts = run.results.timeseries(tuple(name for name, _, _ in OVERLAY))
        hours = ts.column("t_s").to_numpy() / 3600.0
        for ax, (name, _title, _unit) in zip(axes, OVERLAY):
            ax.plot(hours, ts.column(name).to_numpy(), lw=0.8, label=run.label)
    for ax, (_name, title, unit) in zip(axes, OVERLAY):
        ax.set_title(title, loc="left", fontsize=9)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("hours since scenario start")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _header(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    keys = ("scenario", "site", "controller", "step_s", "duration_s", "seed", "status")
    return ["", *[run.label for run in runs]], [[key, *[str(run.results.meta.get(key, "")) for run in runs]]
                                                 for key in keys]


def _differs(runs: list[Run]) -> list[str]:
    notes = []
    for key in ("scenario", "duration_s", "seed", "site"):
        values = {str(run.results.meta.get(key)) for run in runs}
        if len(values) > 1:
            notes.append(f"The runs differ in `{key}` ({', '.join(sorted(values))}): differences mix its effect in.")
    return notes


def _markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in rows]]


def write_comparison(runs: list[Run], out_dir: Path) -> tuple[Path, Path]:
    """``comparison.md`` (with ``comparison.png`` beside it) and a self-contained ``comparison.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = overlay_png(runs)
    (out_dir / "comparison.png").write_bytes(png)
    head, meta_rows = _header(runs)
    kpi_head = ["figure", "unit", *[r.label for r in runs], *[f"{r.label} − {runs[0].label}" for r in runs[1:]]]
    kpis, verdicts = kpi_rows(runs), verdict_rows(runs)
    notes = _differs(runs)
    md = [f"# Comparison of {len(runs)} runs", "", *notes, "", *_markdown_table(head, meta_rows), "",
          "## Key figures", "", *_markdown_table(kpi_head, kpis), ""]
    if verdicts:
        md += ["## Acceptance criteria", "", *_markdown_table(["criterion", *[r.label for r in runs]], verdicts), ""]
    md += ["## Overlay", "", "![overlay](comparison.png)", ""]
    md_path = out_dir / "comparison.md"
    md_path.write_text("\n".join(md), encoding="utf-8")

    def table(head: list[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><tr>{cells}</tr>{body}</table>"

    parts = [f"<h1>Comparison of {len(runs)} runs</h1>", *[f"<p>{html.escape(n)}</p>" for n in notes],
             table(head, meta_rows), "<h2>Key figures</h2>", table(kpi_head, kpis)]
    if verdicts:
        parts += ["<h2>Acceptance criteria</h2>", table(["criterion", *[r.label for r in runs]], verdicts)]
    parts += ["<h2>Overlay</h2>", f'<img alt="overlay" src="data:image/png;base64,{base64.b64encode(png).decode()}">']
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}")
    html_path = out_dir / "comparison.html"
    html_path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>satwin comparison</title>"
                         f"<style>{style}</style></head><body>{''.join(parts)}</body></html>", encoding="utf-8")
    return md_path, html_path

"""Verdicts: each criterion of a scenario (``twin.config.criteria``) judged against a run's KPIs.

A failed verdict carries its ``windows``: when (simulated seconds since the start) and for
how long the criterion did not hold (``twin.results.windows``), and may say why (``reason``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from twin.config.criteria import holds, parse_criterion
from twin.results.reader import Results
from twin.results.windows import violation_windows


@dataclass(frozen=True)
class Verdict:
    criterion: str
    measured: float
    passed: bool
    windows: tuple[tuple[float, float], ...] = ()  # (start s, end s) of each violation
    reason: str = ""


def judge(criteria: tuple[str, ...], kpis: dict[str, Any], results: Results | str | Path | None = None) -> list[Verdict]:
    """Each criterion against ``kpis``; with ``results`` (a folder), a failed one gets its windows."""
    verdicts = []
    for text in criteria:
        criterion = parse_criterion(text)
        measured = float(kpis.get(criterion.kpi_key, float("nan")))
        passed = holds(criterion.op, measured, criterion.threshold)
        windows = () if passed or results is None else tuple(violation_windows(results, criterion))
        verdicts.append(Verdict(criterion.text, measured, passed, windows))
    return verdicts


def describe_windows(windows, limit: int = 5) -> str:
    """``at +18:02:10 for 6.1 min; ...`` (since the start); the first ``limit``, then how many more."""
    parts = [f"at +{_hms(start)} for {_span(end - start)}" for start, end in windows[:limit]]
    if len(windows) > limit:
        parts.append(f"and {len(windows) - limit} more")
    return "; ".join(parts)


def _hms(t_s: float) -> str:
    t = int(round(t_s))
    return f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"


def _span(s: float) -> str:
    return f"{s:g} s" if s < 120 else f"{s / 60:.1f} min"


def verdicts_as_dicts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]

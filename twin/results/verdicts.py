"""Verdicts: each criterion of a scenario (``twin.config.criteria``) judged against a run's KPIs.
"""

from __future__ import annotations

from twin.config.criteria import EQUAL_TOLERANCE, OPERATORS, parse_criterion

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    criterion: str
    measured: float
    passed: bool


def judge(criteria: tuple[str, ...], kpis: dict[str, Any]) -> list[Verdict]:
    verdicts = []
    for text in criteria:
        criterion = parse_criterion(text)
        measured = float(kpis.get(criterion.kpi_key, float("nan")))
        if criterion.op == "==":
            passed = abs(measured - criterion.threshold) <= EQUAL_TOLERANCE
        else:
            passed = bool(OPERATORS[criterion.op](measured, criterion.threshold))
        verdicts.append(Verdict(criterion.text, measured, passed))
    return verdicts


def verdicts_as_dicts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]

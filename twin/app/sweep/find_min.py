"""``--find-min PARAM --subject-to CRITERION``: the smallest value of a parameter that passes.

Bisection over the parameter's values in the sweep file (its list, or its range on its step;
a range without a step is cut into 64 intervals), seeds held fixed, assuming the criterion
gets easier as the parameter grows (a bigger battery, a higher contract). Each step runs
every seed of every scenario (and every point of the other parameters) at one value, on
the cluster; the criterion must hold at all of them. Runs land in the sweep's table, so a
re-run skips them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twin.config.errors import ScenarioError
from twin.config.sweep import Range, Sweep

Judge = Callable[[float], bool]


@dataclass
class Bisection:
    param: str
    candidates: list[float]
    tried: dict[float, bool] = field(default_factory=dict)  # value -> passed, in the order tried
    answer: float | None = None


def candidates(sweep: Sweep, param: str) -> list[float]:
    spec = sweep.spec.parameters.get(param)
    if spec is None:
        raise ScenarioError(sweep.path, "--find-min", f"'{param}' is not a parameter of this sweep "
                            f"(parameters: {', '.join(sweep.spec.parameters) or 'none'})")
    if isinstance(spec, Range):
        if spec.step is not None:
            n = int(math.floor((spec.high - spec.low) / spec.step + 1e-9))
            values = [spec.low + i * spec.step for i in range(n + 1)]
        else:
            values = list(np.linspace(spec.low, spec.high, 65))
        values = [int(round(v)) if spec.integer else float(f"{v:.12g}") for v in values]
    else:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            raise ScenarioError(sweep.path, f"parameters.{param}", "--find-min needs numbers")
        values = list(spec)
    return sorted(set(values))


def bisect(param: str, values: list[float], judge: Judge) -> Bisection:
    """Smallest value in ``values`` (ascending) for which ``judge`` holds, if the largest does."""
    found = Bisection(param, values)

    def passes(i: int) -> bool:
        found.tried[values[i]] = judge(values[i])
        return found.tried[values[i]]

    low, high = 0, len(values) - 1
    if not passes(high):
        return found
    if passes(low):
        found.answer = values[low]
        return found
    while high - low > 1:  # invariant: values[low] fails, values[high] passes
        mid = (low + high) // 2
        if passes(mid):
            high = mid
        else:
            low = mid
    found.answer = values[high]
    return found

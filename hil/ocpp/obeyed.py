"""The OCPP side's own criterion: every connector's recorded power stayed within the limit its
station derived from the charging profiles, once the charger's command latency had passed.

A station's limit commanded at ``t`` is in force from ``t + latency`` on (the twin applies it
at that instant, inside the step if the step is longer than the latency). The recording
keeps one mean power per step, so each step is compared with the time-weighted mean of the
limits in force over it: a step in which a lower limit took effect is allowed the old limit
for the part of the step before the latency had passed. (Comparing such a step with the new
limit alone reported excesses of up to ``(old - new) × latency / step`` — e.g. 51 kW for an
MCS lowered from 600 to 343 kW 1 s into a 5 s step — that the charger never drew.)
With ``protocol = "both"`` a Modbus write above the profile's limit makes it fail — the
profile was then not what governed the charger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twin.config.site import Site
from twin.results.reader import Results
from twin.results.verdicts import Verdict

TOLERANCE_KW = 0.01


def mean_limit_kw(in_force_s: np.ndarray, limits_kw: np.ndarray, start_s: np.ndarray, end_s: np.ndarray,
                  before_kw: float) -> np.ndarray:
    """The time-weighted mean over each [start, end] of a step function that is ``before_kw``
    until ``in_force_s[0]`` and ``limits_kw[k]`` from ``in_force_s[k]`` on (times ascending)."""
    knots_s = np.concatenate(([0.0], in_force_s))  # limits come into force at or after 0 s
    values_kw = np.concatenate(([before_kw], limits_kw))
    cumulative = np.concatenate(([0.0], np.cumsum(values_kw[:-1] * np.diff(knots_s))))  # integral to each knot

    def integral(t_s: np.ndarray) -> np.ndarray:
        k = np.searchsorted(knots_s, t_s, side="right") - 1
        return cumulative[k] + values_kw[k] * (t_s - knots_s[k])

    return (integral(end_s) - integral(start_s)) / np.maximum(end_s - start_s, 1e-12)


def profile_obeyed(out_dir: Path, site: Site, commanded: dict[str, list[tuple[float, float]]]) -> Verdict:
    """``commanded``: per connector, every (sim time, kW) limit its station commanded, in time order."""
    group_of = {f"{group.name}_{i + 1}": group for group in site.chargers for i in range(group.count)}
    table = Results(out_dir).timeseries(("t_s", "charger_p_kw."))
    end_s = np.asarray(table.column("t_s"), dtype=float)
    start_s = np.concatenate(([0.0], end_s[:-1]))  # each row is the step that ends at its t_s
    worst_kw = 0.0
    for name, commands in commanded.items():
        if not commands:
            continue
        group = group_of[name]
        in_force_s = np.array([t + group.command_latency_s for t, _ in commands])
        limits_kw = np.array([kw for _, kw in commands])
        governed = end_s > in_force_s[0]
        if governed.any():
            # before its first OCPP limit a connector may draw its rating
            allowed = mean_limit_kw(in_force_s, limits_kw, start_s[governed], end_s[governed], group.p_max_kw)
            power = np.asarray(table.column(f"charger_p_kw.{name}"))[governed]
            worst_kw = max(worst_kw, float((power - allowed).max()))
    return Verdict("charging profiles obeyed: connector power <= OCPP limit after latency (worst excess, kW)",
                   round(worst_kw, 3), worst_kw <= TOLERANCE_KW)

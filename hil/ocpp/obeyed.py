"""The OCPP side's own criterion: every connector's recorded power stayed within the limit its
station derived from the charging profiles, once the charger's command latency had passed.

A station's limit commanded at ``t`` is in force for a step ending after ``t + latency`` (the
twin applies it at that instant, and a step's power is drawn under the limits in force at
its end); the check compares each recorded step with the last OCPP limit in force by then.
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


def profile_obeyed(out_dir: Path, site: Site, commanded: dict[str, list[tuple[float, float]]]) -> Verdict:
    """``commanded``: per connector, every (sim time, kW) limit its station commanded, in time order."""
    latency_s = {f"{group.name}_{i + 1}": group.command_latency_s for group in site.chargers
                 for i in range(group.count)}
    table = Results(out_dir).timeseries(("t_s", "charger_p_kw."))
    t_s = np.asarray(table.column("t_s"))
    worst_kw = 0.0
    for name, commands in commanded.items():
        in_force_s = np.array([t + latency_s[name] for t, _ in commands])
        limits_kw = np.array([kw for _, kw in commands])
        last = np.searchsorted(in_force_s, t_s, side="left") - 1  # the last limit in force before each step's end
        governed = last >= 0
        if governed.any():
            power = np.asarray(table.column(f"charger_p_kw.{name}"))[governed]
            worst_kw = max(worst_kw, float((power - limits_kw[last[governed]]).max()))
    return Verdict("charging profiles obeyed: connector power <= OCPP limit after latency (worst excess, kW)",
                   round(worst_kw, 3), worst_kw <= TOLERANCE_KW)

"""The OCPP side's own criterion: every connector's recorded power stayed within the limit its
station derived from the charging profiles, once the charger's latency (and one step) had passed.

It reads the run's recording only: the ``setpoint`` events whose source is an OCPP station, and
the connectors' recorded power. With ``protocol = "both"`` a Modbus write above the profile's
limit makes it fail — the profile was then not what governed the charger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twin.config.site import Site
from twin.results.reader import Results
from twin.results.verdicts import Verdict

TOLERANCE_KW = 0.01


def profile_obeyed(out_dir: Path, site: Site, step_s: float) -> Verdict:
    results = Results(out_dir)
    events = [e for e in results.events.to_pylist() if e["kind"] == "setpoint" and "by ocpp " in e["detail"]]
    latency_s = {name: group.command_latency_s for group in site.chargers
                 for name in (f"{group.name}_{i + 1}" for i in range(group.count))}
    table = results.timeseries(("t_s", "charger_p_kw."))
    t_s = np.asarray(table.column("t_s"))
    worst_kw = 0.0
    for name in {e["device"] for e in events}:
        power = np.asarray(table.column(f"charger_p_kw.{name}"))
        commands = sorted((e["t_s"], e["value"]) for e in events if e["device"] == name)
        for k, (at_s, limit_kw) in enumerate(commands):
            begin = at_s + latency_s[name] + step_s
            end = commands[k + 1][0] + latency_s[name] + step_s if k + 1 < len(commands) else np.inf
            inside = (t_s > begin) & (t_s < end)
            if inside.any():
                # a higher next limit only takes over after its own latency: the lower one holds till then
                worst_kw = max(worst_kw, float(power[inside].max()) - limit_kw)
    return Verdict("charging profiles obeyed: connector power <= OCPP limit after latency (worst excess, kW)",
                   round(worst_kw, 3), worst_kw <= TOLERANCE_KW)

"""Between the twin's truth and everything a controller sees.

Every controller — built-in or external over Modbus — reads ``measure(snapshot)``, never
the snapshot itself, so sensor effects (delay, noise, stuck values; see the scenario
library issue) apply to all of them alike. Without sensor models, the measurement is the
truth of the last completed step.
"""

from __future__ import annotations

from twin.controllers.base import Measurements
from twin.core import Snapshot


def measure(snap: Snapshot) -> Measurements:
    return Measurements(
        t_s=snap.t_s,
        hour_local=snap.hour_local,
        grid_p_kw=snap.grid_p_kw,
        grid_q_kvar=snap.grid_q_kvar,
        poc_v_pu=snap.poc_v_pu,
        pv_p_kw=float(snap.pv_p_kw.sum()),
        pv_available_kw=float(snap.pv_available_kw.sum()),
        bess_p_kw=snap.bess_p_kw,
        bess_soc_pct=snap.bess_soc_pct,
        ev_p_kw=snap.ev_p_kw,
        ev_cap_kw=snap.ev_cap_kw,
        tariff_cny_per_kwh=snap.tariff_cny_per_kwh,
    )

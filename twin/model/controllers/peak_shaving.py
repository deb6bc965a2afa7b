"""Reference peak-shaving controller.

Policy, in order: keep grid import under the contract limit (less a margin) by
discharging the battery; when the battery cannot cover it, cap EV charging — and only
then; charge the battery from PV surplus, and from the grid in the valley tariff while
there is headroom; keep SoC inside its window. The same policy runs over Modbus in
``hil.clients.reference_ems`` (the map is sufficient for it).

Why not simply ``demand = grid + battery``: when the meter reading is late (the seeds'
"sensor delays"), it pairs an old grid value with the battery's present power, and the
controller chases its own past actions into an oscillation. Instead the fast-changing
parts of demand come from the devices themselves (EV charging and PV, measured at the
device), and only the slow remainder (buildings and losses) comes from the meter, low-pass
filtered over minutes, so a delay of seconds to tens of seconds averages out.
"""

from __future__ import annotations

from twin.model.commands import SITE_TARGET, Command
from twin.model.controllers.base import Measurements, SiteInfo

SOC_GUARD_PCT = 1.0  # stop short of the SoC limits so measurement noise does not chatter
RELAX_PCT_OF_CONTRACT = 5.0  # how fast a binding EV cap is raised when the battery has power to spare
# ... but never by more than this share of the margin below the contract: the cap lets EV charging
# grow by that much before the battery can answer (one step later), and the rest of the margin
# takes the losses the extra power brings (a 5 % relax over a 3 % margin put the holiday peak
# over the contract for one step at every plug-in: 6 min a day at 5 s steps)
RELAX_SHARE_OF_MARGIN = 0.5
REST_TIME_CONSTANT_S = 300.0  # low-pass of the meter-derived remainder (buildings + losses)


class PeakShavingController:
    name = "peak-shaving"

    def __init__(self, site: SiteInfo, margin_pct: float = 3.0) -> None:
        self.site = site
        self.target_kw = site.contract_limit_kw * (1.0 - margin_pct / 100.0)
        self._rest_kw: float | None = None
        self._last_t_s: float | None = None

    def _demand_kw(self, m: Measurements) -> float:
        """What the site would draw without the battery: device-measured EV and PV, plus the filtered rest."""
        rest_kw = m.grid_p_kw + m.bess_p_kw + m.pv_p_kw - m.ev_p_kw
        if self._rest_kw is None or self._last_t_s is None:
            self._rest_kw = rest_kw
        else:
            dt_s = max(m.t_s - self._last_t_s, 0.0)
            self._rest_kw += min(1.0, dt_s / REST_TIME_CONSTANT_S) * (rest_kw - self._rest_kw)
        self._last_t_s = m.t_s
        return self._rest_kw + m.ev_p_kw - m.pv_p_kw

    def decide(self, m: Measurements) -> list[Command]:
        site = self.site
        can_discharge = m.bess_soc_pct > site.bess_soc_min_pct + SOC_GUARD_PCT
        can_charge = m.bess_soc_pct < site.bess_soc_max_pct - SOC_GUARD_PCT
        demand_kw = self._demand_kw(m)
        if demand_kw > self.target_kw:
            bess_kw = min(demand_kw - self.target_kw, site.bess_p_max_kw) if can_discharge else 0.0
        elif demand_kw < 0.0:
            bess_kw = -min(-demand_kw, site.bess_p_max_kw) if can_charge else 0.0
        elif m.tariff_cny_per_kwh <= site.valley_cny_per_kwh and can_charge:
            bess_kw = -min(site.bess_p_max_kw, self.target_kw - demand_kw)
        else:
            bess_kw = 0.0
        # EV cap: shed only what the battery cannot cover. Measured EV power hides the demand a
        # binding cap suppresses, so raise the cap step by step while the battery has power to spare.
        excess_kw = demand_kw - bess_kw - self.target_kw
        spare_kw = site.bess_p_max_kw - bess_kw if can_discharge else 0.0
        relax_kw = min(spare_kw, site.contract_limit_kw * RELAX_PCT_OF_CONTRACT / 100.0,
                       RELAX_SHARE_OF_MARGIN * (site.contract_limit_kw - self.target_kw))
        ev_cap_kw = min(max(m.ev_p_kw - excess_kw + relax_kw, 0.0), site.ev_p_max_kw)
        commands = [Command(SITE_TARGET, "ev_cap_kw", ev_cap_kw)]
        if site.bess_name:
            commands.insert(0, Command(site.bess_name, "p_set_kw", bess_kw))
        return commands

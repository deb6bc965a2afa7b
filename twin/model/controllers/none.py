"""The uncontrolled site: the battery idles and EVs charge at whatever they ask for."""

from __future__ import annotations

from twin.model.controllers.base import Measurements, Setpoints, SiteInfo


class NoController:
    name = "none"

    def __init__(self, site: SiteInfo) -> None:
        self.site = site

    def decide(self, measured: Measurements) -> Setpoints:
        return Setpoints(bess_p_set_kw=0.0, ev_cap_kw=self.site.ev_p_max_kw)

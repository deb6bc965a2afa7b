"""The uncontrolled site: the battery idles and EVs charge at whatever they ask for."""

from __future__ import annotations

from twin.model.commands import SITE_TARGET, Command
from twin.model.controllers.base import Measurements, SiteInfo


class NoController:
    name = "none"

    def __init__(self, site: SiteInfo) -> None:
        self.site = site

    def decide(self, measured: Measurements) -> list[Command]:
        site = self.site
        commands = [Command(SITE_TARGET, "ev_cap_kw", site.ev_p_max_kw)]
        if site.bess_name:
            commands.insert(0, Command(site.bess_name, "p_set_kw", 0.0))
        return commands

"""Controllers: the protocol, the uncontrolled site, the reference peak-shaving policy."""

from __future__ import annotations

from twin.model.controllers.base import Controller, Measurements, SiteInfo
from twin.model.controllers.none import NoController
from twin.model.controllers.peak_shaving import PeakShavingController

BUILT_IN = {"none": NoController, "peak-shaving": PeakShavingController}


def make_controller(name: str, site: SiteInfo) -> Controller:
    return BUILT_IN[name](site)


__all__ = ["Controller", "Measurements", "SiteInfo", "make_controller", "BUILT_IN"]

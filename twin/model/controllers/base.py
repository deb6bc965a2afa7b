"""What a controller sees and what it may command: the same for built-in and external controllers.

A controller never sees the twin's truth: ``Measurements`` come out of the sensor model.
Its decisions are ``Command`` values (``twin.model.commands``) and go through the twin's one
command path (range, latency, ramp), as Modbus writes and OCPP profiles do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from twin.config.site import Site
from twin.model.commands import Command, ev_p_max_kw


@dataclass(frozen=True, slots=True)
class Measurements:
    t_s: float
    hour_local: float
    grid_p_kw: float  # import positive, at the point of connection
    grid_q_kvar: float
    poc_v_pu: float
    pv_p_kw: float
    pv_available_kw: float
    bess_p_kw: float  # discharge positive
    bess_soc_pct: float
    ev_p_kw: float  # chargers and swap station together
    ev_cap_kw: float  # the site-wide EV cap in force
    tariff_cny_per_kwh: float
    stale: tuple[str, ...] = ()  # points whose sensor dropped out: the value is the last good one
    devices: Mapping[str, float] = field(default_factory=dict)  # device points with a sensor model ("mcs_1.p_kw")


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """Nameplate data a controller is configured with at commissioning."""

    contract_limit_kw: float
    bess_p_max_kw: float
    bess_e_kwh: float
    bess_soc_min_pct: float
    bess_soc_max_pct: float
    ev_p_max_kw: float  # all connectors and pack chargers at full power
    valley_cny_per_kwh: float  # the lowest tariff of the day
    bess_name: str | None = None  # the battery as commands name it; None: the site has none


def site_info(site: Site) -> SiteInfo:
    """The nameplate data of ``site`` (from the site file alone)."""
    bess = site.bess
    return SiteInfo(
        contract_limit_kw=site.utility.contract_limit_kw,
        bess_p_max_kw=bess.p_max_kw if bess else 0.0,
        bess_e_kwh=bess.e_kwh if bess else 0.0,
        bess_soc_min_pct=bess.soc_min_pct if bess else 0.0,
        bess_soc_max_pct=bess.soc_max_pct if bess else 100.0,
        ev_p_max_kw=ev_p_max_kw(site),
        valley_cny_per_kwh=float(min(site.tariff.hourly_cny_per_kwh)),
        bess_name=bess.name if bess else None,
    )


class Controller(Protocol):
    name: str

    def decide(self, measured: Measurements) -> list[Command]: ...

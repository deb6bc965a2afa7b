"""Warnings about files that validate but describe a site or scenario that looks wrong.

Validation (``site_checks``) rejects what cannot be simulated; these checks flag what can
be simulated but probably is not what the engineer meant: a contract typed in MW, a
transformer too small for what it feeds, chargers on the 10 kV bus, a north-facing array,
a cloud after the run has ended. ``satwin validate`` prints them (exit 0, or 2 with
``--strict``); a run does not stop for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.config.scenario import Scenario
from twin.config.site import Site

LV_MAX_KV = 1.0  # chargers, building loads and the swap station are fed at low voltage
CONTRACT_SHARE_MIN = 0.1  # a contract below this share of the connected load is likely a unit mistake
# chargers rarely all draw full power at once, so a transformer may be rated below their sum;
# above this share even a short emergency overload (IEC 60076-7 allows 150 %) would not carry them
TRANSFORMER_DEMAND_MAX = 1.5
NORTH_FACING_DEG = 45.0  # an array within this of north (in the northern hemisphere) faces away from the sun


@dataclass(frozen=True)
class Warning:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _bus_demand_kw(site: Site) -> dict[str, float]:
    """Rated demand on each bus: charger connectors, swap station pack chargers and aux, building peaks."""
    demand = dict.fromkeys(site.bus_kv, 0.0)
    for group in site.chargers:
        demand[group.bus] += group.count * group.p_max_kw
    if site.swap:
        demand[site.swap.bus] += site.swap.pack_chargers * site.swap.pack_charger_kw + site.swap.aux_kw
    for load in site.loads:
        demand[load.bus] += load.p_peak_kw
    return demand


def site_warnings(site: Site) -> list[Warning]:
    found: list[Warning] = []
    u = site.utility
    demand = _bus_demand_kw(site)
    connected_kw = sum(demand.values())

    feeder_kva = math.sqrt(3) * u.vn_kv * u.feeder_max_i_ka * 1000.0
    if u.contract_limit_kw > feeder_kva:
        found.append(Warning("utility.contract_limit_kw", f"{u.contract_limit_kw:g} kW is more than the feeder "
                             f"carries ({feeder_kva:.0f} kVA at {u.feeder_max_i_ka:g} kA): the feeder overloads first"))
    mv = [t for t in site.transformers if t.hv_bus == u.connection_bus]
    mv_kva = sum(t.sn_kva for t in mv)
    if mv and u.contract_limit_kw > mv_kva:
        found.append(Warning("utility.contract_limit_kw", f"{u.contract_limit_kw:g} kW is more than the "
                             f"transformers at '{u.connection_bus}' are rated for together ({mv_kva:g} kVA)"))
    if connected_kw > 0 and u.contract_limit_kw < CONTRACT_SHARE_MIN * connected_kw:
        hint = " — is it in MW? the field is in kW" if u.contract_limit_kw < 100 else ""
        found.append(Warning("utility.contract_limit_kw", f"{u.contract_limit_kw:g} kW is less than "
                             f"{CONTRACT_SHARE_MIN:.0%} of the connected load ({connected_kw:.0f} kW){hint}"))

    for i, t in enumerate(site.transformers):
        fed_kw = _fed_demand_kw(site, t.lv_bus, demand, through=t.name)
        if fed_kw > TRANSFORMER_DEMAND_MAX * t.sn_kva:
            found.append(Warning(f"transformers[{i}].sn_kva", f"'{t.name}' ({t.sn_kva:g} kVA) feeds loads and "
                                 f"chargers rated {fed_kw:.0f} kW ({fed_kw / t.sn_kva:.0%} of its rating, more than even an "
                                 f"emergency overload of {TRANSFORMER_DEMAND_MAX:.0%} carries)"))

    kv = site.bus_kv
    placed = [(f"chargers[{i}].bus", g.bus, "chargers") for i, g in enumerate(site.chargers)]
    placed += [(f"loads[{i}].bus", load.bus, "building load") for i, load in enumerate(site.loads)]
    placed += [("swap.bus", site.swap.bus, "swap station")] if site.swap else []
    for field, bus, what in placed:
        if kv[bus] > LV_MAX_KV:
            found.append(Warning(field, f"{what} on '{bus}' at {kv[bus]:g} kV; they are fed at low voltage "
                                 f"(put them on an LV bus behind a transformer)"))

    for i, array in enumerate(site.pv):
        off_north = min(array.azimuth_deg, 360.0 - array.azimuth_deg)
        if site.location.latitude_deg > 0 and array.tilt_deg > 0 and off_north < NORTH_FACING_DEG:
            found.append(Warning(f"pv[{i}].azimuth_deg", f"{array.azimuth_deg:g}° faces north; azimuth is "
                                 "clockwise from north (pvlib), so south is 180"))

    classes = {v.name for v in site.vehicles if v.daily_vehicles > 0}
    for i, group in enumerate(site.chargers):
        idle = [cls for cls in group.serves if cls not in classes]
        if len(idle) == len(group.serves):
            found.append(Warning(f"chargers[{i}].serves", f"no vehicles of {', '.join(idle)} come to the site "
                                 "(see [[vehicles]]): these connectors stay idle"))
    return found


def _fed_demand_kw(site: Site, bus: str, demand: dict[str, float], through: str) -> float:
    """Demand on ``bus`` and on every bus reached from it without going back through ``through``
    or up to a higher voltage (what a transformer's LV side feeds)."""
    kv = site.bus_kv
    edges = [(t.hv_bus, t.lv_bus, t.name) for t in site.transformers] + [
        (ln.from_bus, ln.to_bus, ln.name) for ln in site.lines]
    seen, todo = set(), [bus]
    while todo:
        here = todo.pop()
        if here in seen:
            continue
        seen.add(here)
        for a, b, name in edges:
            if name == through:
                continue
            for near, far in ((a, b), (b, a)):
                if near == here and far not in seen and kv[far] <= kv[here]:
                    todo.append(far)
    return sum(demand[b] for b in seen)


def scenario_warnings(scenario: Scenario) -> list[Warning]:
    found = site_warnings(scenario.site)
    end_s = scenario.duration_s
    classes = {v.name for v in scenario.site.vehicles}
    for name in scenario.traffic.multiplier:
        if name not in classes:
            found.append(Warning(f"traffic.multiplier.{name}", f"site '{scenario.site.name}' has no '{name}' "
                                 f"vehicles (it has: {', '.join(sorted(classes)) or 'none'}); the multiplier does nothing"))
    timed = [(f"weather.clouds[{i}].start_s", c.start_s) for i, c in enumerate(scenario.weather.clouds)]
    timed += [(f"faults[{i}].start_s", f.start_s) for i, f in enumerate(scenario.faults)]
    for i, sensor in enumerate(scenario.sensors):
        timed += [(f"sensors[{i}].{key}", getattr(sensor, key)) for key in ("stuck_start_s", "dropout_start_s")
                  if getattr(sensor, key) is not None]
    for field, start_s in timed:
        if start_s >= end_s:
            found.append(Warning(field, f"starts at {start_s / 3600:g} h, after the run ends "
                                 f"({end_s / 3600:g} h): it never happens"))
    return found

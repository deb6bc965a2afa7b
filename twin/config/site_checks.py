"""Cross-field rules of a site file, reported against the field that breaks them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from twin.config.errors import ScenarioError

if TYPE_CHECKING:
    from twin.config.site import Site


def check_site(site: Site, path: Path | None) -> None:
    def fail(field: str, message: str) -> None:
        raise ScenarioError(path, field, message)

    kv = site.bus_kv

    def unknown_bus(bus: str) -> str:
        return f"unknown bus '{bus}' (buses: {', '.join(kv)})"

    for name, count in Counter(b.name for b in site.buses).items():
        if count > 1:
            fail("buses", f"bus name '{name}' is used {count} times")
    names = [d.name for group in (site.transformers, site.lines, site.pv, site.chargers, site.loads) for d in group]
    names += [d.name for d in (site.bess, site.swap) if d is not None]
    for name, count in Counter(names).items():
        if count > 1:
            fail("name", f"device name '{name}' is used {count} times; every element needs its own name")

    if site.utility.connection_bus not in kv:
        fail("utility.connection_bus", unknown_bus(site.utility.connection_bus))
    if abs(kv[site.utility.connection_bus] - site.utility.vn_kv) > 1e-9:
        fail("utility.connection_bus", f"bus '{site.utility.connection_bus}' is {kv[site.utility.connection_bus]} kV "
             f"but the feeder is {site.utility.vn_kv} kV")

    for i, t in enumerate(site.transformers):
        for side, bus, rated in (("hv_bus", t.hv_bus, t.vn_hv_kv), ("lv_bus", t.lv_bus, t.vn_lv_kv)):
            if bus not in kv:
                fail(f"transformers[{i}].{side}", unknown_bus(bus))
            if abs(kv[bus] - rated) / rated > 0.1:
                fail(f"transformers[{i}].{side}", f"bus '{bus}' is {kv[bus]} kV, transformer side is rated {rated} kV")
    for i, line in enumerate(site.lines):
        for side in ("from_bus", "to_bus"):
            if getattr(line, side) not in kv:
                fail(f"lines[{i}].{side}", unknown_bus(getattr(line, side)))
        if kv[line.from_bus] != kv[line.to_bus]:
            fail(f"lines[{i}]", f"joins buses of different voltage ({kv[line.from_bus]} and {kv[line.to_bus]} kV)")

    placed = [(f"pv[{i}].bus", d.bus) for i, d in enumerate(site.pv)]
    placed += [(f"chargers[{i}].bus", d.bus) for i, d in enumerate(site.chargers)]
    placed += [(f"loads[{i}].bus", d.bus) for i, d in enumerate(site.loads)]
    placed += [(f"{key}.bus", d.bus) for key, d in (("bess", site.bess), ("swap", site.swap)) if d is not None]
    for field, bus in placed:
        if bus not in kv:
            fail(field, unknown_bus(bus))

    _check_connected(site, fail)
    _check_traffic(site, fail)


def _check_connected(site: Site, fail) -> None:
    """Every bus must reach the point of connection, or the power flow has an island."""
    neighbours: dict[str, set[str]] = {b.name: set() for b in site.buses}
    for a, b in [(t.hv_bus, t.lv_bus) for t in site.transformers] + [(ln.from_bus, ln.to_bus) for ln in site.lines]:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen, todo = set(), [site.utility.connection_bus]
    while todo:
        bus = todo.pop()
        if bus not in seen:
            seen.add(bus)
            todo.extend(neighbours[bus] - seen)
    for i, bus in enumerate(site.buses):
        if bus.name not in seen:
            fail(f"buses[{i}]", f"bus '{bus.name}' is not connected to the utility connection bus by any line or transformer")


def _check_traffic(site: Site, fail) -> None:
    served = {cls for group in site.chargers for cls in group.serves}
    for i, vehicle in enumerate(site.vehicles):
        if vehicle.name == "swap_truck":
            if site.swap is None and vehicle.daily_vehicles > 0:
                fail(f"vehicles[{i}]", "swap trucks arrive but the site has no [swap] station")
        elif vehicle.name not in served and vehicle.daily_vehicles > 0:
            fail(f"vehicles[{i}]", f"no charger group serves '{vehicle.name}' (add it to a group's 'serves')")
    for name, count in Counter(v.name for v in site.vehicles).items():
        if count > 1:
            fail("vehicles", f"vehicle class '{name}' is defined {count} times")

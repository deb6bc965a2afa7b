"""Where everything of a site's one-line diagram goes, and how a power-flow state colours it.

Pure geometry and colour, no drawing library: ``twin.results.one_line`` draws it with
matplotlib (``satwin grid --plot``, the report), ``gui.plot.site_view`` with Qt (the GUI's
live site view), so both show the same picture from the same coordinates and colours.

The utility is at the top; every bus hangs below the bus it is fed from (a tree found
breadth-first from the point of connection, so the 10 kV level sits above the 0.4 kV
one), with the devices of each bus under it. Units are diagram units, y up (negative
below the utility).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from twin.config.site import FEEDER_LINE, UTILITY_BUS, Site

BUS_HALF_WIDTH = 0.38  # at least; a bus is as wide as the devices hanging from it
DEVICE_DROP = 0.42  # how far below its bus a device's label hangs
DEVICE_STAGGER = 0.32  # every second device of a bus hangs this much lower, so neighbouring labels never overlap
DEVICE_SPACING = 0.8  # between the devices of one bus
LEAF_SPACING = 1.8  # between neighbouring leaf buses of the narrowest width (a bus label fits between)
LEVEL_SPACING = 1.6  # between a bus and the buses it feeds
MARK_DROP = 0.4  # a branch's label (and a transformer's symbol) sits this far below its elbow

# colours from the limit's low end to its high end (fractions of the range): a bus is
# blue below the voltage band and red above it, a branch green when idle and red at its limit
VOLTAGE_STOPS = ((0.0, "#3b4cc0"), (0.5, "#2ca02c"), (1.0, "#d62728"))
LOADING_STOPS = ((0.0, "#2ca02c"), (0.6, "#f0b400"), (1.0, "#d62728"))
DEAD_COLOUR = "#c8c8c8"  # de-energized buses and opened branches
NO_STATE_COLOUR = "#000000"  # the diagram of a site file, without a power-flow state


@dataclass(frozen=True)
class Branch:
    from_bus: str
    to_bus: str
    name: str
    kind: Literal["line", "trafo"]


@dataclass(frozen=True)
class Device:
    """Something connected to a bus; ``name`` is what faults and the recording call it."""

    name: str
    kind: Literal["pv", "bess", "charger", "swap", "load"]
    bus: str
    label: str
    x: float
    y: float  # the top of its label


@dataclass(frozen=True)
class OneLine:
    buses: dict[str, tuple[float, float]]  # bus -> centre of its bar
    bus_half_width: dict[str, float]
    kv: dict[str, float]
    branches: list[Branch]
    devices: list[Device]

    def branch_path(self, branch: Branch) -> list[tuple[float, float]]:
        """Down from the upper bus, across at mid-height, down to the lower bus."""
        (xa, ya), (xb, yb) = self.buses[branch.from_bus], self.buses[branch.to_bus]
        return [(xa, ya), (xa, (ya + yb) / 2), (xb, (ya + yb) / 2), (xb, yb)]

    def branch_mark(self, branch: Branch) -> tuple[float, float]:
        """Where a branch's label and a transformer's two circles go: on its lower leg."""
        (_, ya), (xb, yb) = self.buses[branch.from_bus], self.buses[branch.to_bus]
        return xb, (ya + yb) / 2 - MARK_DROP

    @property
    def x_range(self) -> tuple[float, float]:
        xs = [x for x, _ in self.buses.values()]
        return min(xs), max(xs)

    @property
    def lowest_y(self) -> float:
        return min(y for _, y in self.buses.values())


def branches(site: Site) -> list[Branch]:
    """Every branch of the network, feeder first."""
    found = [Branch(UTILITY_BUS, site.utility.connection_bus, FEEDER_LINE, "line")]
    found += [Branch(t.hv_bus, t.lv_bus, t.name, "trafo") for t in site.transformers]
    found += [Branch(ln.from_bus, ln.to_bus, ln.name, "line") for ln in site.lines]
    return found


def bus_half_widths(site: Site) -> dict[str, float]:
    """Half the width of each bus bar: wide enough for the devices under it."""
    count: dict[str, int] = {}
    for _name, _kind, bus, _label in _device_list(site):
        count[bus] = count.get(bus, 0) + 1
    buses = [UTILITY_BUS, *(b.name for b in site.buses)]
    return {bus: max(BUS_HALF_WIDTH, (count.get(bus, 0) - 1) / 2 * DEVICE_SPACING + 0.15) for bus in buses}


def bus_positions(site: Site) -> dict[str, tuple[float, float]]:
    """x, y of each bus: a breadth-first tree from the utility, leaves side by side (a wide bus takes
    more room), parents centred."""
    children: dict[str, list[str]] = {UTILITY_BUS: []} | {b.name: [] for b in site.buses}
    depth, order = {UTILITY_BUS: 0}, [UTILITY_BUS]
    for bus in order:
        for branch in branches(site):
            for near, far in ((branch.from_bus, branch.to_bus), (branch.to_bus, branch.from_bus)):
                if near == bus and far not in depth:
                    depth[far] = depth[bus] + 1
                    children[bus].append(far)
                    order.append(far)
    x: dict[str, float] = {}
    next_leaf = [0.0]
    half = bus_half_widths(site)

    def place(bus: str) -> float:
        if not children[bus]:
            room = LEAF_SPACING + 2 * (half[bus] - BUS_HALF_WIDTH)
            x[bus] = next_leaf[0] + room / 2
            next_leaf[0] += room
        else:
            x[bus] = sum(place(child) for child in children[bus]) / len(children[bus])
        return x[bus]

    place(UTILITY_BUS)
    return {bus: (x[bus], -LEVEL_SPACING * depth[bus]) for bus in depth}


def _device_list(site: Site) -> list[tuple[str, str, str, str]]:
    """(name, kind, bus, label) of every device, in site order."""
    found = [(a.name, "pv", a.bus, f"PV {a.name}\n{a.p_peak_kwp:g} kWp") for a in site.pv]
    if site.bess:
        b = site.bess
        found.append((b.name, "bess", b.bus, f"BESS {b.name}\n{b.p_max_kw:g} kW / {b.e_kwh:g} kWh"))
    found += [(g.name, "charger", g.bus, f"{g.count} x {g.p_max_kw:g} kW\n{g.name}") for g in site.chargers]
    if site.swap:
        s = site.swap
        found.append((s.name, "swap", s.bus, f"swap {s.name}\n{s.pack_chargers} x {s.pack_charger_kw:g} kW"))
    found += [(ld.name, "load", ld.bus, f"load {ld.name}\n{ld.p_peak_kw:g} kW") for ld in site.loads]
    return found


def one_line(site: Site) -> OneLine:
    """The whole diagram of ``site``."""
    buses = bus_positions(site)
    listed = _device_list(site)
    per_bus: dict[str, int] = {}
    for _name, _kind, bus, _label in listed:
        per_bus[bus] = per_bus.get(bus, 0) + 1
    devices, placed = [], dict.fromkeys(per_bus, 0)
    for name, kind, bus, label in listed:
        x, y = buses[bus]
        dx = (placed[bus] - (per_bus[bus] - 1) / 2) * DEVICE_SPACING
        drop = DEVICE_DROP + DEVICE_STAGGER * (placed[bus] % 2)
        placed[bus] += 1
        devices.append(Device(name, kind, bus, label, x + dx, y - drop))
    return OneLine(buses, bus_half_widths(site), site.bus_kv | {UTILITY_BUS: site.utility.vn_kv}, branches(site),
                   devices)


def colour_at(value: float, low: float, high: float, stops: tuple[tuple[float, str], ...]) -> str:
    """``#rrggbb`` of ``value`` on a scale from ``low`` to ``high`` (clamped at the ends)."""
    fraction = 0.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    for (f0, c0), (f1, c1) in zip(stops, stops[1:]):
        if fraction <= f1:
            w = (fraction - f0) / (f1 - f0)
            rgb = [round((1 - w) * int(c0[i:i + 2], 16) + w * int(c1[i:i + 2], 16)) for i in (1, 3, 5)]
            return "#" + "".join(f"{c:02x}" for c in rgb)
    return stops[-1][1]

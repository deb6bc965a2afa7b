"""The state of every element of the one-line diagram at one moment, from the plots' store.

The site view (``gui.plot.site_view``) draws what this computes, so live and replay show
the same thing the panels do: bus voltages (``v_pu.<bus>``) and branch loadings
(``line_loading_pct.<line>``, ``trafo_loading_pct.<trafo>``) in the step that ends at or
after the cursor, and the faults active then (``fault`` to ``fault_cleared`` events of the
same kind and device, as the panels shade them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from gui.data.channels import Limits
from gui.data.store import SeriesStore
from twin.config.site import UTILITY_BUS
from twin.results.one_line_layout import (DEAD_COLOUR, LOADING_STOPS, NO_STATE_COLOUR, VOLTAGE_STOPS, OneLine,
                                          colour_at)

FAULT_MARKS = {  # fault kind -> what its element is marked
    "transformer_outage": "open", "feeder_outage": "open", "pv_trip": "tripped", "bess_trip": "tripped",
    "bess_derate": "derated", "charger_fault": "faulted", "utility_outage": "utility lost",
    "voltage_sag": "voltage sag",
}
SITE_WIDE = ("utility_outage", "voltage_sag")  # marked on the utility bus
FAULTED_DEVICE_COLOUR, DEVICE_COLOUR = "#d62728", "#808080"


@dataclass(frozen=True)
class ElementState:
    colour: str  # "#rrggbb"
    value: str  # "0.9987 pu", "63 %", or "" without a recorded value
    marks: tuple[str, ...] = ()  # "open", "tripped", "de-energized", "overloaded", ...

    @property
    def text(self) -> str:
        return "\n".join(filter(None, (self.value, *self.marks)))


@dataclass(frozen=True)
class SiteState:
    buses: dict[str, ElementState]
    branches: dict[str, ElementState]
    devices: dict[str, ElementState]


class FaultTracker:
    """Fault events seen so far (the store's events only ever append), and which are active at a time."""

    def __init__(self) -> None:
        self._faults: list = []  # (t_s, +1 | -1, kind, device)
        self._seen = 0
        self._generation = -1

    def update(self, store: SeriesStore) -> None:
        if store.generation != self._generation:  # a new run on the same server: start over
            self._faults, self._seen, self._generation = [], 0, store.generation
        for event in store.events[self._seen:]:
            if event.kind == "fault":
                self._faults.append((event.t_s, 1, event.detail.split(" (")[0], event.device))
            elif event.kind == "fault_cleared":
                self._faults.append((event.t_s, -1, event.detail, event.device))
        self._seen = len(store.events)

    def active_at(self, t_s: float) -> list[tuple[str, str]]:
        """(kind, device) of the faults started at or before ``t_s`` and not cleared by then."""
        count: Counter[tuple[str, str]] = Counter()
        for at_s, change, kind, device in self._faults:
            if at_s <= t_s:
                count[(kind, device)] += change
        return sorted(key for key, n in count.items() if n > 0)


class SiteStates:
    """Turns the store at a time into a ``SiteState`` for one diagram."""

    def __init__(self, diagram: OneLine, limits: Limits) -> None:
        self.diagram, self.limits = diagram, limits
        self.faults = FaultTracker()
        self._device_names = {d.name for d in diagram.devices}

    def _element_of(self, kind: str, device: str) -> str:
        if kind in SITE_WIDE:
            return UTILITY_BUS
        if device not in self._device_names and device.rsplit("_", 1)[0] in self._device_names:
            return device.rsplit("_", 1)[0]  # a connector (car_dc_3) marks its charger group
        return device

    def at(self, store: SeriesStore, t_s: float) -> SiteState:
        self.faults.update(store)
        marks: dict[str, list[str]] = {}
        for kind, device in self.faults.active_at(t_s):
            marks.setdefault(self._element_of(kind, device), []).append(FAULT_MARKS.get(kind, kind))
        lim = self.limits

        def value(channel: str) -> float | None:
            return store.value_at(channel, t_s) if channel in store.index and store.n else None

        buses = {}
        for bus in self.diagram.buses:
            v_pu, extra = value(f"v_pu.{bus}"), marks.get(bus, [])
            if v_pu is None:
                buses[bus] = ElementState(NO_STATE_COLOUR, "", tuple(extra))
            elif not np.isfinite(v_pu) or v_pu <= 0.0:
                buses[bus] = ElementState(DEAD_COLOUR, "", ("de-energized", *extra))
            else:
                band = ("low voltage",) if v_pu < lim.v_min_pu else ("high voltage",) if v_pu > lim.v_max_pu else ()
                buses[bus] = ElementState(colour_at(v_pu, lim.v_min_pu, lim.v_max_pu, VOLTAGE_STOPS),
                                          f"{v_pu:.4f} pu", (*band, *extra))
        branches = {}
        for branch in self.diagram.branches:
            field = "trafo_loading_pct" if branch.kind == "trafo" else "line_loading_pct"
            loading, extra = value(f"{field}.{branch.name}"), marks.get(branch.name, [])
            if "open" in extra:
                branches[branch.name] = ElementState(DEAD_COLOUR, "", tuple(extra))
            elif loading is None or not np.isfinite(loading):
                branches[branch.name] = ElementState(NO_STATE_COLOUR, "", tuple(extra))
            else:
                over = ("overloaded",) if loading > lim.max_loading_pct else ()
                branches[branch.name] = ElementState(colour_at(loading, 0.0, lim.max_loading_pct, LOADING_STOPS),
                                                     f"{loading:.0f} %", (*over, *extra))
        devices = {d.name: ElementState(FAULTED_DEVICE_COLOUR if d.name in marks else DEVICE_COLOUR, "",
                                        tuple(marks.get(d.name, ()))) for d in self.diagram.devices}
        return SiteState(buses, branches, devices)

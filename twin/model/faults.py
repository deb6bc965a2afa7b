"""Faults as data: scheduled (scenario file) or injected (GUI), applied at their exact sim times.

Each fault is a SimPy process: it waits for its start, switches its effect on, logs a
``fault`` event, waits its duration, switches the effect off and logs ``fault_cleared``.
Effects nest: two overlapping faults on one device clear only when both have ended.

| kind | device | effect |
|---|---|---|
| pv_trip | a PV array | the inverter produces nothing |
| bess_trip | the BESS | no power at all (state FAULT) |
| bess_derate | the BESS | power limited to (100 - derate_pct) % of rating |
| charger_fault | a connector (``car_dc_3``) or a whole group (``car_dc``) | no power; taken out of the queue |
| transformer_outage | a transformer | opened in the network: what it fed is de-energized |
| feeder_outage | a line or cable (``utility_feeder`` for the 10 kV feeder) | opened in the network |
| utility_outage | — | the utility is lost: the battery forms the grid (islanding) within its limits, load it cannot carry is shed |
| voltage_sag | — | the utility voltage drops to ``sag_pu`` |
| comms_loss | a Modbus device (``meter``, ``bess``, ``site``, a PV array or connector) | its unit stops answering |
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from twin.config.faults import Fault

if TYPE_CHECKING:
    from twin.model.core import Twin


class FaultEffects:
    """Which faults are active on the twin, and their effect on devices and network."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.active: Counter[str] = Counter()
        self.count = 0  # faults active now: counted at each switch, read by every step's snapshot
        self.comms_lost: frozenset[str] = frozenset()
        self._derate_pct: dict[str, float] = {}  # active bess_derate faults -> derate

    def schedule(self, fault: Fault, source: str):
        env = self.twin.env
        yield env.timeout(max(0.0, fault.start_s - env.now))
        self.switch(fault, True)
        self.twin.log("fault", fault.device or "site", -1, fault.duration_s, f"{fault.kind} ({source})")
        yield env.timeout(fault.duration_s)
        self.switch(fault, False)
        self.twin.log("fault_cleared", fault.device or "site", -1, 0.0, fault.kind)

    def switch(self, fault: Fault, on: bool) -> None:
        """Switch a fault's effect on or off now (its process calls this; so does a rebuilt step)."""
        self.active[fault.label] += 1 if on else -1
        self.count = sum(1 for value in self.active.values() if value > 0)
        active = self.active[fault.label] > 0
        twin, kind, device = self.twin, fault.kind, fault.device
        if kind == "bess_derate":
            if active:
                self._derate_pct[fault.label] = max(fault.derate_pct, self._derate_pct.get(fault.label, 0.0))
            else:
                self._derate_pct.pop(fault.label, None)
        if kind == "pv_trip":
            twin.pv.tripped[twin.pv.names.index(device)] = active
        elif kind in ("bess_trip", "bess_derate"):
            self._bess_limit()
            self._refresh_topology()  # a tripped battery cannot hold an island
        elif kind == "charger_fault":
            for slot in twin.connector_slots(device):
                twin.set_connector_fault(slot, active)
        elif kind in ("transformer_outage", "feeder_outage", "utility_outage"):
            self._refresh_topology()
        elif kind == "voltage_sag":
            twin.grid.set_source_voltage(fault.sag_pu if active else twin.site.utility.vm_pu)
        elif kind == "comms_loss":
            self.comms_lost = frozenset(label.split(":", 1)[1] for label, count in self.active.items()
                                        if count > 0 and label.startswith("comms_loss:"))

    def _refresh_topology(self) -> None:
        opened = frozenset(label.split(":", 1)[1] for label, count in self.active.items()
                           if count > 0 and label.split(":", 1)[0] in ("transformer_outage", "feeder_outage"))
        battery = self.twin.battery
        battery_ok = battery is not None and self.active[f"bess_trip:{battery.spec.name}"] <= 0
        self.twin.grid.set_topology(opened, islanded=self.active["utility_outage"] > 0, island_source=battery_ok)

    def _bess_limit(self) -> None:
        battery = self.twin.battery
        if battery is None:
            return
        if self.active[f"bess_trip:{battery.spec.name}"] > 0:
            battery.p_derate_kw = 0.0
            return
        derate_pct = max(self._derate_pct.values(), default=0.0)
        battery.p_derate_kw = battery.spec.p_max_kw * (1.0 - derate_pct / 100.0)

"""Heavy-truck battery swap station: bays, a stock of packs, and the chargers that refill them.

A swap truck takes a bay, exchanges its depleted pack for a full one in ``swap_minutes``
and leaves; the depleted pack joins the queue for a pack charger and returns to stock at
``full_soc_pct``. With no full pack in stock the truck waits in the bay (or reneges),
which is how an undersized station shows up in the queue KPIs.
"""

from __future__ import annotations

import numpy as np
import simpy

from twin.config.site import SwapStation
from twin.model.clock import put_now, take_now
from twin.model.devices.charger import ChargingSlots, Occupant
from twin.model.events import EventLog
from twin.model.traffic import ServiceTotals, Vehicle

PACK_CHARGER_EFFICIENCY_PCT = 96.0
PACK_TAPER_START_PCT = 85.0


class SwapStationModel:
    def __init__(self, env: simpy.Environment, spec: SwapStation, totals: ServiceTotals, log: EventLog) -> None:
        self.env, self.spec, self.totals, self.log = env, spec, totals, log
        n = spec.pack_chargers
        self.slots = ChargingSlots(env, np.full(n, spec.pack_charger_kw), np.full(n, PACK_CHARGER_EFFICIENCY_PCT),
                                   np.full(n, spec.pack_charger_kw / 5.0))
        self.bays = simpy.Resource(env, spec.bays)
        self.full_packs = simpy.Store(env)
        self.free_chargers = simpy.Store(env)
        for slot in range(n):
            put_now(self.free_chargers, slot)
        for _ in range(spec.packs):
            put_now(self.full_packs, spec.full_soc_pct)
        self.tripped = False

    @property
    def queue_len(self) -> int:
        return len(self.bays.queue)

    @property
    def full_pack_count(self) -> int:
        return len(self.full_packs.items)

    def visit(self, vehicle: Vehicle) -> simpy.events.ProcessGenerator:
        env, spec, totals, log = self.env, self.spec, self.totals, self.log
        cls = vehicle.cls
        pack_demand_kwh = (spec.full_soc_pct - vehicle.arrival_soc_pct) / 100.0 * spec.pack_kwh
        totals.arrived += 1
        log("arrival", cls.name, vehicle.vehicle_id, pack_demand_kwh)
        if self.queue_len >= cls.balk_queue_len:
            totals.balked += 1
            totals.unserved_kwh += pack_demand_kwh
            log("balk", spec.name, vehicle.vehicle_id, pack_demand_kwh, f"queue {self.queue_len}")
            return
        arrived_at = env.now
        deadline = env.timeout(cls.max_wait_min * 60.0)
        with self.bays.request() as bay:
            if not bay.triggered:  # a free bay is granted at once (its event is already triggered)
                yield bay | deadline
            pack = None
            if bay.triggered:
                pack = take_now(self.full_packs)  # a full pack in stock: no race against the deadline
                if pack is None:
                    request = self.full_packs.get()
                    yield request | deadline
                    if request.triggered:
                        pack = request.value
                    else:
                        request.cancel()
            if pack is None:
                totals.reneged += 1
                totals.unserved_kwh += pack_demand_kwh
                log("renege", spec.name, vehicle.vehicle_id, pack_demand_kwh, "no bay or no full pack in time")
                return
            wait_min = (env.now - arrived_at) / 60.0
            totals.wait_min.append(wait_min)
            yield env.timeout(spec.swap_minutes * 60.0)
        totals.served += 1
        totals.delivered_kwh += pack_demand_kwh
        log("swap", spec.name, vehicle.vehicle_id, wait_min, f"{pack_demand_kwh:.0f} kWh pack, waited {wait_min:.1f} min")
        env.process(self._recharge(vehicle.arrival_soc_pct))

    def _recharge(self, soc_pct: float) -> simpy.events.ProcessGenerator:
        slot = take_now(self.free_chargers)
        if slot is None:
            slot = yield self.free_chargers.get()
        spec = self.spec
        done = self.slots.plug(slot, Occupant(spec.pack_kwh, soc_pct, spec.full_soc_pct, spec.pack_charger_kw,
                                              PACK_TAPER_START_PCT))
        yield done
        self.slots.unplug(slot)
        put_now(self.free_chargers, slot)
        put_now(self.full_packs, spec.full_soc_pct)

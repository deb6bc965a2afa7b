"""SimPy processes for vehicles: non-homogeneous Poisson arrivals, queueing, balking, reneging, dwell.

Arrivals of each vehicle class follow the site's hourly profile x daily volume x the
scenario's multiplier (a holiday), drawn by thinning so the rate can change every hour.
A charging vehicle joins the queue of the connectors that serve its class (fastest free
connector first), leaves without queueing when the queue is too long (balk), gives up
after its maximum wait (renege), and leaves at its target SoC or its dwell limit.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from itertools import count

import numpy as np
import simpy

from twin.config.site import VehicleClass
from twin.model.clock import put_now, take_now
from twin.model.devices.charger import ChargingSlots, Occupant
from twin.model.events import EventLog

MIN_ACCEPT_FRACTION = 0.7  # a vehicle accepts a uniform share of its class's max_charge_kw, from this to 1


@dataclass
class Vehicle:
    vehicle_id: int
    cls: VehicleClass
    capacity_kwh: float
    arrival_soc_pct: float
    max_accept_kw: float

    @property
    def demand_kwh(self) -> float:
        return max(0.0, self.cls.target_soc_pct - self.arrival_soc_pct) / 100.0 * self.capacity_kwh

    def occupant(self, target_soc_pct: float | None = None) -> Occupant:
        return Occupant(self.capacity_kwh, self.arrival_soc_pct, target_soc_pct or self.cls.target_soc_pct,
                        self.max_accept_kw, self.cls.taper_start_soc_pct)


@dataclass
class ServiceTotals:
    """Running totals of service, kept by the processes and read into every snapshot."""

    arrived: int = 0
    served: int = 0
    balked: int = 0
    reneged: int = 0
    delivered_kwh: float = 0.0  # battery-side energy handed to vehicles
    unserved_kwh: float = 0.0
    wait_min: list[float] = field(default_factory=list)


class ConnectorPool:
    """The connectors that serve a set of vehicle classes, handed out fastest first.

    A faulted connector is held out of the pool: taken out at once when it is free, or when
    its vehicle leaves; it returns when the fault clears.
    """

    def __init__(self, env: simpy.Environment, slots: ChargingSlots, members: list[int], names: list[str]) -> None:
        self.slots = slots
        self.names = names  # of every slot (``car_dc_1``), as the time series and faults name them
        self.members = set(members)
        self.free = simpy.PriorityStore(env)
        self.held: set[int] = set()
        for slot in members:
            put_now(self.free, self._item(slot))

    def _item(self, slot: int) -> simpy.PriorityItem:
        return simpy.PriorityItem((-self.slots.p_max_kw[slot], slot), slot)

    @property
    def queue_len(self) -> int:
        return len(self.free.get_queue)

    def release(self, slot: int) -> None:
        if self.slots.faulted[slot]:
            self.held.add(slot)
        else:
            put_now(self.free, self._item(slot))

    def hold(self, slot: int) -> None:
        """Take a free connector out of service (a busy one is held when its vehicle leaves)."""
        for i, item in enumerate(self.free.items):
            if item.item == slot:
                self.free.items.pop(i)
                heapq.heapify(self.free.items)
                self.held.add(slot)
                return

    def restore(self, slot: int) -> None:
        if slot in self.held:
            self.held.discard(slot)
            put_now(self.free, self._item(slot))


def hourly_rates_per_s(cls: VehicleClass, multiplier: float) -> np.ndarray:
    """Arrival rate (vehicles/s) for each hour of the local day."""
    shape = np.asarray(cls.hourly_profile) / np.sum(cls.hourly_profile)
    return cls.daily_vehicles * multiplier * shape / 3600.0


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """``rng.uniform(low, high)`` as a float, bit for bit: numpy computes ``low + (high - low) * u``
    with ``u`` the next ``random()``; called directly, without its ~0.6 us of argument handling
    (three draws a vehicle)."""
    return low + (high - low) * rng.random()


def arrivals(env: simpy.Environment, cls: VehicleClass, rates_per_s: np.ndarray, start_hour: float,
             rng: np.random.Generator, ids: count, on_arrival) -> simpy.events.ProcessGenerator:
    """Non-homogeneous Poisson arrivals by thinning (Lewis & Shedler).

    Candidates are drawn at the peak rate and kept with probability rate/peak; the rejected
    ones are drawn ahead of time rather than waited for, so that only real arrivals are
    SimPy events (the random numbers come in the same order either way)."""
    peak = float(rates_per_s.max())
    if peak <= 0:
        return
    mean_gap_s, rates = 1.0 / peak, rates_per_s.tolist()  # Python floats: the same values, cheaper to index
    while True:
        candidate_s = env.now
        while True:
            candidate_s += rng.exponential(mean_gap_s)
            hour = int((start_hour + candidate_s / 3600.0) % 24)
            if rng.random() * peak <= rates[hour]:
                break
        yield env.timeout(candidate_s - env.now)
        vehicle = Vehicle(
            next(ids), cls,
            capacity_kwh=uniform(rng, *cls.battery_kwh),
            arrival_soc_pct=uniform(rng, *cls.arrival_soc_pct),
            max_accept_kw=cls.max_charge_kw * uniform(rng, MIN_ACCEPT_FRACTION, 1.0),
        )
        on_arrival(vehicle)


def charging_visit(env: simpy.Environment, vehicle: Vehicle, pool: ConnectorPool, totals: ServiceTotals,
                   log: EventLog) -> simpy.events.ProcessGenerator:
    """One vehicle's visit to the chargers, from arrival to departure."""
    cls = vehicle.cls
    totals.arrived += 1
    log("arrival", cls.name, vehicle.vehicle_id, vehicle.demand_kwh)
    if pool.queue_len >= cls.balk_queue_len:
        totals.balked += 1
        totals.unserved_kwh += vehicle.demand_kwh
        log("balk", cls.name, vehicle.vehicle_id, vehicle.demand_kwh, f"queue {pool.queue_len}")
        return
    arrived_at = env.now
    connector = take_now(pool.free)  # a free connector, without a race against the maximum wait
    if connector is None:
        request = pool.free.get()
        yield request | env.timeout(cls.max_wait_min * 60.0)
        if not request.triggered:
            request.cancel()
            totals.reneged += 1
            totals.unserved_kwh += vehicle.demand_kwh
            log("renege", cls.name, vehicle.vehicle_id, vehicle.demand_kwh, f"waited {cls.max_wait_min:g} min")
            return
        connector = request.value
    slot = connector.item
    wait_min = (env.now - arrived_at) / 60.0
    totals.wait_min.append(wait_min)
    slots = pool.slots
    done = slots.plug(slot, vehicle.occupant())
    log("plug", pool.names[slot], vehicle.vehicle_id, wait_min, f"{cls.name} waited {wait_min:.1f} min")
    # ``done | env.timeout(dwell)`` without its Condition event: the dwell limit, if it comes
    # first, fires the slot's own event, which only this visit waits on
    dwell_limit = env.timeout(cls.max_dwell_min * 60.0)
    dwell_limit.callbacks.append(lambda _limit: None if done.triggered else done.succeed())
    yield done
    if dwell_limit.callbacks:  # the battery filled first: nobody waits on the limit now (a dead timeout)
        dwell_limit.callbacks.clear()
    _, soc = slots.unplug(slot)
    pool.release(slot)
    delivered = max(0.0, soc - vehicle.arrival_soc_pct) / 100.0 * vehicle.capacity_kwh
    unserved = max(0.0, vehicle.demand_kwh - delivered)
    totals.served += 1
    totals.delivered_kwh += delivered
    totals.unserved_kwh += unserved
    log("departure", pool.names[slot], vehicle.vehicle_id, delivered,
        f"{cls.name} soc {soc:.0f}%" + (f", {unserved:.1f} kWh unserved" if unserved > 1e-6 else ""))

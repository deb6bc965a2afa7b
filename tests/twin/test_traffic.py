"""Vehicle traffic: arrival volumes follow the profile, queues form, balking and reneging happen."""

from __future__ import annotations

from itertools import count

import numpy as np
import pytest
import simpy

from tests.conftest import FREIGHT_SITE, run_twin
from twin.config.site import load_site
from twin.model.traffic import arrivals, hourly_rates_per_s, uniform


def test_arrival_counts_follow_daily_volume_and_hourly_profile():
    car = next(v for v in load_site(FREIGHT_SITE).vehicles if v.name == "car")
    env = simpy.Environment()
    seen: list[float] = []
    rates = hourly_rates_per_s(car, 2.0)
    env.process(arrivals(env, car, rates, 0.0, np.random.default_rng(5), count(), lambda v: seen.append(env.now)))
    env.run(until=20 * 86400)
    per_day = len(seen) / 20
    assert abs(per_day - 2 * car.daily_vehicles) < 4 * np.sqrt(2 * car.daily_vehicles / 20) * 1.5
    hours = (np.asarray(seen) // 3600 % 24).astype(int)
    night, noon = (hours == 3).sum(), (hours == 11).sum()
    expected_ratio = car.hourly_profile[11] / car.hourly_profile[3]
    assert 0.6 * expected_ratio < noon / night < 1.6 * expected_ratio


def test_holiday_surge_makes_queues_balks_and_unserved_energy(holiday):
    surge = holiday.with_options(step_s=30.0, duration_s=14 * 3600.0)
    _, snaps = run_twin(surge.model_copy(update={"traffic": surge.traffic.model_copy(
        update={"multiplier": {"car": 8.0, "truck": 1.0, "swap_truck": 1.0}})}), "none")
    last = snaps[-1]
    assert max(s.queue_len[0] for s in snaps) >= 5
    assert last.balked + last.reneged > 0
    assert last.unserved_kwh > 0
    assert last.served + last.balked + last.reneged <= last.arrived


def _waited_thinning(env, cls, rates_per_s, start_hour, rng, ids, on_arrival):
    """The thinning as it was: every candidate a SimPy timeout, rejected ones included."""
    peak = float(rates_per_s.max())
    while True:
        yield env.timeout(rng.exponential(1.0 / peak))
        hour = int((start_hour + env.now / 3600.0) % 24)
        if rng.random() * peak <= rates_per_s[hour]:
            rng.uniform(size=3)  # the vehicle's draws, in the same order as ``arrivals``
            on_arrival(next(ids))


def test_arrivals_drawn_ahead_equal_the_waited_thinning_and_schedule_only_real_arrivals():
    car = next(v for v in load_site(FREIGHT_SITE).vehicles if v.name == "car")
    rates = hourly_rates_per_s(car, 3.0)
    times: dict[str, list[float]] = {"ahead": [], "waited": []}
    events = {}
    for name, process in (("ahead", arrivals), ("waited", _waited_thinning)):
        env = simpy.Environment()
        env.process(process(env, car, rates, 7.5, np.random.default_rng(11), count(),
                            lambda _vehicle, seen=times[name], env=env: seen.append(env.now)))
        steps = 0
        while env.peek() < 3 * 86400:
            env.step()
            steps += 1
        events[name] = steps
    assert len(times["ahead"]) > 1000
    assert len(times["ahead"]) == len(times["waited"])
    np.testing.assert_allclose(times["ahead"], times["waited"], rtol=0, atol=1e-6)
    # one event per arrival (and the start), where the waited thinning also woke for each rejected candidate
    assert events["ahead"] == len(times["ahead"]) + 1 < events["waited"]


def test_the_vehicles_uniform_draw_is_numpys_bit_for_bit():
    """``uniform`` leaves the random stream and every value as ``rng.uniform`` does, so a run's
    vehicles are the same as when they were drawn through numpy's method."""
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    for low, high in ((10.0, 80.0), (0.7, 1.0), (60.0, 600.0), (42.0, 42.0), (-3.0, 2.5), (1e-9, 1e9)):
        drawn = [uniform(ours, low, high) for _ in range(5000)]
        assert drawn == [float(numpys.uniform(low, high)) for _ in range(5000)], (low, high)
        assert all(low <= x <= high for x in drawn)
    assert ours.random() == numpys.random()  # the streams are still in step


def _one_connector(env, cls, p_max_kw=50.0):
    from twin.model.devices.charger import ChargingSlots
    from twin.model.events import EventLog
    from twin.model.traffic import ConnectorPool, ServiceTotals

    slots = ChargingSlots(env, np.array([p_max_kw]), np.array([100.0]), np.array([1e9]))
    return slots, ConnectorPool(env, slots, [0], ["car_dc_1"]), ServiceTotals(), EventLog(env)


def _drive(env, slots, until_s):
    """Charge at full power from event to event, as ``Twin.step`` does (its parts, without a grid)."""
    while env.now < until_s:
        while env.peek() <= env.now:
            env.step()
        wanted = slots.wanted_kw()
        end_s = min(until_s, env.next_live_s(), env.now + slots.seconds_to_target(wanted))
        dt_s = end_s - env.now
        env.run_before(end_s)
        slots.advance(dt_s, wanted)


def test_a_vehicle_leaves_at_its_dwell_limit_or_when_full_and_a_dead_limit_cuts_no_part():
    """The visit's race of a full battery against the dwell limit, run without a Condition event."""
    from twin.model.clock import SiteEnvironment
    from twin.model.traffic import Vehicle, charging_visit

    car = next(v for v in load_site(FREIGHT_SITE).vehicles if v.name == "car")
    car = car.model_copy(update={"max_dwell_min": 30.0, "target_soc_pct": 80.0, "taper_start_soc_pct": 100.0})
    # 50 kWh at 50 kW: full in 1 h (at the limit of 30 min, half of it), or 10 kWh: full in 12 min
    for demand_kwh, leaves_s, soc_pct in ((50.0, 1800.0, 55.0), (10.0, 720.0, 80.0)):
        env = SiteEnvironment()
        slots, pool, totals, log = _one_connector(env, car)
        vehicle = Vehicle(1, car, capacity_kwh=100.0, arrival_soc_pct=80.0 - demand_kwh, max_accept_kw=50.0)
        env.process(charging_visit(env, vehicle, pool, totals, log))
        _drive(env, slots, 700.0)
        assert totals.served == 0 and slots.occupied[0]
        assert env.next_live_s() == 1800.0  # the dwell limit is what the visit waits on
        _drive(env, slots, 4000.0)
        departure = next(e for e in log.pending if e.kind == "departure")
        assert departure.t_s == pytest.approx(leaves_s, abs=1e-6)
        assert totals.served == 1 and not slots.occupied[0]
        assert totals.delivered_kwh == pytest.approx(soc_pct - vehicle.arrival_soc_pct, rel=1e-9)
        assert env.next_live_s() == float("inf")  # a filled battery's dwell limit is dead: no part ends at it
        assert pool.free.items and not pool.free.get_queue  # the connector is free again


def test_a_swap_truck_takes_a_stocked_pack_at_once_waits_for_a_recharged_one_or_reneges():
    """One bay, one pack, one pack charger: the first truck swaps on arrival; the second waits
    for the first's pack to be recharged; a third that will not wait that long reneges."""
    from twin.model.clock import SiteEnvironment
    from twin.model.devices.swap import SwapStationModel
    from twin.model.events import EventLog
    from twin.model.traffic import ServiceTotals, Vehicle

    site = load_site(FREIGHT_SITE)
    spec = site.swap.model_copy(update={"packs": 1, "pack_chargers": 1, "bays": 1, "swap_minutes": 5.0})
    truck = next(v for v in site.vehicles if v.name == "swap_truck")
    env = SiteEnvironment()
    totals = ServiceTotals()
    log = EventLog(env)
    station = SwapStationModel(env, spec, totals, log)
    patient, impatient = (truck.model_copy(update={"max_wait_min": m}) for m in (600.0, 10.0))

    def arrive(at_s, cls, vehicle_id):
        yield env.timeout(at_s)
        yield env.process(station.visit(Vehicle(vehicle_id, cls, 1.0, 40.0, 1.0)))

    for at_s, cls, vehicle_id in ((0.0, patient, 1), (60.0, patient, 2), (120.0, impatient, 3)):
        env.process(arrive(at_s, cls, vehicle_id))
    pack_back_s = []
    slots = station.slots
    while env.now < 6 * 3600.0:  # charge the packs from event to event, as ``Twin.step`` does
        while env.peek() <= env.now:
            env.step()
        wanted, _ = slots.want()
        end_s = min(6 * 3600.0, env.next_live_s(), env.now + slots.seconds_to_target(wanted))
        dt_s = end_s - env.now
        env.run_before(end_s)
        was_charging = bool(slots.occupied[0])
        slots.advance(dt_s, wanted)
        while env.peek() <= env.now:
            env.step()
        if was_charging and not slots.occupied[0]:
            pack_back_s.append(env.now)

    swaps = {e.vehicle_id: e for e in log.pending if e.kind == "swap"}
    assert swaps[1].t_s == 300.0 and swaps[1].value == 0.0  # a stocked pack, at once
    assert len(pack_back_s) == 2 and pack_back_s[0] > 300.0  # the first truck's pack, recharged
    assert swaps[2].t_s == pytest.approx(pack_back_s[0] + 300.0)  # the second swapped when it was back
    assert swaps[2].value == pytest.approx((pack_back_s[0] - 60.0) / 60.0)  # its wait, in minutes
    reneged = [e for e in log.pending if e.kind == "renege"]
    assert [e.vehicle_id for e in reneged] == [3] and reneged[0].t_s == pytest.approx(120.0 + 600.0)
    assert (totals.served, totals.reneged, station.full_pack_count) == (2, 1, 1)

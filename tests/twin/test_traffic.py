"""Vehicle traffic: arrival volumes follow the profile, queues form, balking and reneging happen."""

from __future__ import annotations

from itertools import count

import numpy as np
import simpy

from tests.conftest import FREIGHT_SITE, run_twin
from twin.config.site import load_site
from twin.model.traffic import arrivals, hourly_rates_per_s


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

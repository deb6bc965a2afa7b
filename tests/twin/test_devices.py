"""Device models one by one: battery limits and losses, charging taper, PV from sun and clouds, loads."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import simpy

from tests.conftest import FREIGHT_SITE
from twin.config.scenario import CloudEvent
from twin.config.site import load_site
from twin.model.commands import Command
from twin.model.core import Twin
from twin.model.devices.bess import Battery, BessState
from twin.model.devices.charger import ChargingSlots, Occupant, taper_kw
from twin.model.devices.pv import PvPlant
from twin.model.profiles import IntervalMean
from twin.model.site_time import local_times
from twin.model.solar import available_kw


@pytest.fixture(scope="module")
def site():
    return load_site(FREIGHT_SITE)


def test_battery_round_trip_efficiency_and_soc_window(site):
    battery = Battery(site.bess)
    start = battery.soc_pct
    battery.p_set_kw = -1000.0
    charged = -sum(battery.advance(60.0) for _ in range(60)) / 60.0  # kWh over an hour
    battery.p_set_kw = 1000.0
    discharged = 0.0
    while battery.soc_pct > start + 1e-9:
        discharged += battery.advance(1.0) / 3600.0
    assert discharged / charged == pytest.approx(site.bess.round_trip_eff_pct / 100.0, rel=2e-3)
    battery.p_set_kw = 3200.0
    for _ in range(5000):
        battery.advance(60.0)
    assert battery.soc_pct == pytest.approx(site.bess.soc_min_pct, abs=1e-6)
    assert battery.p_kw == pytest.approx(0.0, abs=1e-6) and battery.state == BessState.IDLE


def test_battery_ramps_toward_its_setpoint(site):
    battery = Battery(site.bess)
    battery.p_set_kw = 3200.0
    first = battery.advance(1.0)
    assert first == pytest.approx(site.bess.ramp_kw_per_s)
    assert battery.state == BessState.DISCHARGING


def test_taper_above_the_knee():
    p = taper_kw(np.array([50.0, 80.0, 90.0, 100.0]), np.full(4, 100.0), np.full(4, 80.0))
    assert p[0] == 100.0 and p[1] == pytest.approx(100.0) and p[2] == pytest.approx(50.0) and p[3] == pytest.approx(5.0)


def test_charging_slot_fills_to_target_and_fires_its_event():
    env = simpy.Environment()
    slots = ChargingSlots(env, np.array([120.0]), np.array([95.0]), np.array([1000.0]))
    done = slots.plug(0, Occupant(60.0, 20.0, 80.0, 150.0, 80.0))
    steps = 0
    while not done.triggered:
        slots.advance(10.0, slots.wanted_kw())
        steps += 1
    assert slots.soc_pct[0] == pytest.approx(80.0)
    energy_kwh, soc = slots.unplug(0)
    assert energy_kwh * 0.95 == pytest.approx(0.6 * 60.0)  # battery-side energy = 36 kWh
    assert steps * 10 == pytest.approx(36 / 0.95 / 120 * 3600, abs=10)  # 120 kW until the knee at 80 %


def test_pv_follows_the_sun_and_clouds(site):
    start = dt.datetime(2026, 6, 21, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    times = local_times(start, site.location.timezone, 86400, 60.0)
    clear = PvPlant(site.pv, available_kw(site.pv, site.location, times, 60.0, ()), 60.0)
    cloud = CloudEvent(start_s=8 * 3600, duration_s=3600, attenuation_pct=80)
    cloudy = PvPlant(site.pv, available_kw(site.pv, site.location, times, 60.0, (cloud,)), 60.0)
    night, _ = clear.powers(0, 3600)
    noon, _ = clear.powers(12 * 3600, 13 * 3600)
    morning, _ = clear.powers(8 * 3600, 9 * 3600)  # below the inverter limit, so no clipping
    morning_cloud, _ = cloudy.powers(8 * 3600, 9 * 3600)
    assert night.sum() == 0.0
    inverter = sum(a.inverter_kw for a in site.pv)
    assert 0.5 * inverter < noon.sum() <= inverter
    assert morning.sum() < 0.9 * inverter
    # 80 % less irradiance; cooler cells under the cloud give back a few percent
    assert 0.2 * morning.sum() < morning_cloud.sum() < 0.24 * morning.sum()
    clear.p_limit_pct[:] = 30.0
    _, produced = clear.powers(12 * 3600, 13 * 3600)
    assert produced.sum() <= 0.3 * inverter + 1e-9


def test_interval_mean_is_exact_for_linear_profiles():
    profile = IntervalMean(np.arange(11.0) * 10.0, 60.0)  # 0..100 over 10 minutes, linear
    assert profile.mean(0, 600)[0] == pytest.approx(50.0)
    assert profile.mean(30, 90)[0] == pytest.approx(10.0)
    assert profile.mean(120, 121)[0] == pytest.approx(20.0 + 10 / 60 * 0.5)


def test_a_battery_command_acts_from_its_time_inside_the_step(holiday):
    """Latency 30 s inside a 60 s step: half the step at the old setpoint, half at the new one."""
    bess = holiday.site.bess.model_copy(update={"command_latency_s": 30.0, "ramp_kw_per_s": 1e6})
    scenario = holiday.model_copy(update={"site": holiday.site.model_copy(update={"bess": bess})})
    twin = Twin(scenario.with_options(step_s=60.0))
    soc0 = twin.battery.soc_pct
    twin.apply([Command(bess.name, "p_set_kw", 1000.0)])
    first = twin.step(60.0)
    assert first.bess_p_kw == pytest.approx(500.0)  # used to be 1000: the whole step
    second = twin.step(60.0)
    assert second.bess_p_kw == pytest.approx(1000.0)
    eta = math.sqrt(bess.round_trip_eff_pct / 100.0)
    discharged_kwh = (soc0 - twin.battery.soc_pct) / 100.0 * bess.e_kwh * eta
    assert discharged_kwh == pytest.approx(1000.0 * 90.0 / 3600.0)  # 30 s + 60 s at 1000 kW

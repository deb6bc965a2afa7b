"""The climate weather model against the normals it was given."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PASSENGER_SITE
from twin.config.site import load_site
from twin.model.site_time import local_times
from twin.model.weather import (
    climate_weather,
    daily_clear_sky_index,
    daily_clear_sky_kwh_m2,
)

GHI_TOLERANCE_PCT = 2.0  # the 5-minute grid and the run's extra end point shift monthly means a little
TEMP_TOLERANCE_C = 0.3
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(scope="module")
def site():
    return load_site(PASSENGER_SITE)


@pytest.fixture(scope="module")
def year(site):
    times = local_times(START, site.location.timezone, 365 * 86400, 300.0)
    return times, climate_weather(site.climate, site.location, times, np.random.default_rng(7))


def test_monthly_means_match_the_normals(site, year):
    times, weather = year
    ghi = pd.Series(weather.sky["ghi"].to_numpy(), index=times).iloc[:-2]  # drop the points past the year
    daily_kwh_m2 = ghi.groupby(ghi.index.month).mean() * 24 / 1000
    np.testing.assert_allclose(daily_kwh_m2.to_numpy(), site.climate.ghi_kwh_m2_day, rtol=GHI_TOLERANCE_PCT / 100)
    temp = pd.Series(weather.ambient_c, index=times).iloc[:-2]
    np.testing.assert_allclose(temp.groupby(temp.index.month).mean().to_numpy(), site.climate.temp_c,
                               atol=TEMP_TOLERANCE_C)


def test_irradiance_components_are_consistent(year):
    times, weather = year
    sky, zenith = weather.sky, weather.solar["zenith"].to_numpy()
    assert (sky.to_numpy() >= 0).all()
    closure = sky["dhi"] + sky["dni"] * np.cos(np.radians(zenith))
    day = zenith < 80
    np.testing.assert_allclose(closure[day], sky["ghi"][day], atol=1.0)  # Erbs keeps GHI = DHI + DNI cos z


def _daily_index(site, seed: int) -> np.ndarray:
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D", tz=site.location.timezone)
    clear = daily_clear_sky_kwh_m2(site.location, days)
    return daily_clear_sky_index(site.climate, days, clear, np.random.default_rng(seed))


def test_same_seed_same_days_other_seed_other_days(site):
    np.testing.assert_array_equal(_daily_index(site, 3), _daily_index(site, 3))
    assert not np.allclose(_daily_index(site, 3), _daily_index(site, 4))


def test_a_year_mixes_clear_partly_cloudy_and_overcast_days(site):
    kc = _daily_index(site, 11)
    clear, overcast = (kc > 0.75).mean(), (kc < 0.35).mean()
    partly = 1 - clear - overcast
    assert 0.15 < clear < 0.7 and 0.05 < overcast < 0.5 and partly > 0.2
    lag1 = np.corrcoef(kc[:-1], kc[1:])[0, 1]
    assert lag1 > 0.2  # spells of weather, not independent days


def test_cloud_event_still_attenuates_the_climate(site):
    from twin.config.scenario import CloudEvent
    from twin.model.devices.pv import PvPlant
    from twin.model.solar import available_kw

    times = local_times(dt.datetime(2025, 6, 1, tzinfo=START.tzinfo), site.location.timezone, 86400, 60.0)
    weather = climate_weather(site.climate, site.location, times, np.random.default_rng(1))
    plain = PvPlant(site.pv, available_kw(site.pv, site.location, times, 60.0, (), weather), 60.0)
    cloud = CloudEvent(start_s=0, duration_s=86400, attenuation_pct=50)
    shaded = PvPlant(site.pv, available_kw(site.pv, site.location, times, 60.0, (cloud,), weather), 60.0)
    noon = (12 * 3600, 13 * 3600)
    assert shaded.powers(*noon)[0].sum() < 0.6 * plain.powers(*noon)[0].sum()

"""Irradiance and air temperature at the site: clear sky, or days drawn from climate normals.

The ``climate`` model keeps pvlib's Ineichen clear sky as the shape of each day and scales
it by a daily clear-sky index. The daily indices come from a beta distribution around each
month's mean, driven by an autocorrelated latent series (weather comes in spells of clear
or overcast days), reproducible by seed. Each calendar month the run touches is drawn
whole and rescaled so that its mean daily GHI equals the normal, so a year run reproduces
the normals while a one-day run still gets an ordinary (not an average) day. GHI is split
into DNI and DHI with the Erbs model; the air temperature is the monthly mean plus a
diurnal cycle whose swing grows on clear days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pvlib
from scipy import stats

from twin.config.site import Climate, Location

CLEAR_SKY_AMBIENT_C = 25.0  # the clear-sky model has no climate: PV sees STC air temperature
KC_MIN = 0.08  # the darkest overcast day still lets ~8 % of clear-sky irradiation through
KC_MAX = 1.0  # a day brighter than the clear-sky model is rare enough to ignore
BETA_CONCENTRATION = 2.5  # low: wide spread of days, from overcast to clear
DAY_TO_DAY_CORRELATION = 0.6  # lag-1 correlation of the latent daily weather series
T_MAX_HOUR = 15.0  # air temperature peaks mid-afternoon
DAILY_GRID_S = 600.0  # clear-sky daily totals need no finer sampling
RESCALE_ROUNDS = 20  # clipping at KC_MAX needs a few rounds for bright months


@dataclass(frozen=True)
class SiteWeather:
    """Irradiance (W/m², columns ghi/dni/dhi), solar position and air temperature on ``times``."""

    sky: pd.DataFrame
    solar: pd.DataFrame
    ambient_c: np.ndarray


def _pvlib_location(location: Location) -> pvlib.location.Location:
    return pvlib.location.Location(location.latitude_deg, location.longitude_deg, location.timezone,
                                   location.altitude_m)


def clear_sky_weather(location: Location, times: pd.DatetimeIndex) -> SiteWeather:
    site = _pvlib_location(location)
    solar = site.get_solarposition(times)
    sky = site.get_clearsky(times, model="ineichen", solar_position=solar)
    return SiteWeather(sky, solar, np.full(len(times), CLEAR_SKY_AMBIENT_C))


def month_days(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Every local day of every calendar month that ``times`` touches."""
    first = times[0].normalize().replace(day=1)
    last = (times[-1].normalize().replace(day=1) + pd.offsets.MonthBegin(1)) - pd.Timedelta(days=1)
    return pd.date_range(first, last, freq="D")


def daily_clear_sky_kwh_m2(location: Location, days: pd.DatetimeIndex) -> np.ndarray:
    """Clear-sky global horizontal irradiation of each day (kWh/m²)."""
    per_day = int(86400 / DAILY_GRID_S)
    times = pd.date_range(days[0], periods=len(days) * per_day, freq=pd.Timedelta(seconds=DAILY_GRID_S))
    ghi = _pvlib_location(location).get_clearsky(times, model="ineichen")["ghi"].to_numpy()
    return ghi.reshape(len(days), per_day).sum(axis=1) * DAILY_GRID_S / 3.6e6


def daily_clear_sky_index(climate: Climate, days: pd.DatetimeIndex, clear_kwh_m2: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
    """Clear-sky index of each day, each whole month rescaled to its normal daily GHI."""
    latent = np.empty(len(days))
    latent[0] = rng.standard_normal()
    innovation = np.sqrt(1 - DAY_TO_DAY_CORRELATION**2)
    for i in range(1, len(days)):
        latent[i] = DAY_TO_DAY_CORRELATION * latent[i - 1] + innovation * rng.standard_normal()
    quantile = stats.norm.cdf(latent)
    normal_kwh = np.asarray(climate.ghi_kwh_m2_day)[days.month - 1]
    kc = np.empty(len(days))
    months = days.year * 12 + days.month
    for month in np.unique(months):
        inside = months == month
        target = normal_kwh[inside][0]
        mean_kc = np.clip(target / clear_kwh_m2[inside].mean(), KC_MIN + 0.01, KC_MAX - 0.01)
        mu = (mean_kc - KC_MIN) / (KC_MAX - KC_MIN)
        drawn = stats.beta.ppf(quantile[inside], mu * BETA_CONCENTRATION, (1 - mu) * BETA_CONCENTRATION)
        kc[inside] = _rescaled(KC_MIN + (KC_MAX - KC_MIN) * drawn, clear_kwh_m2[inside], target)
    return kc


def _rescaled(kc: np.ndarray, clear_kwh_m2: np.ndarray, target_kwh_m2: float) -> np.ndarray:
    """Scale the month's indices so its mean daily irradiation is the normal, within [KC_MIN, KC_MAX]."""
    for _ in range(RESCALE_ROUNDS):
        achieved = (kc * clear_kwh_m2).mean()
        if achieved <= 0 or abs(achieved / target_kwh_m2 - 1) < 1e-6:
            break
        kc = np.clip(kc * target_kwh_m2 / achieved, KC_MIN, KC_MAX)
    return kc


def climate_weather(climate: Climate, location: Location, times: pd.DatetimeIndex,
                    rng: np.random.Generator) -> SiteWeather:
    days = month_days(times)
    kc_day = daily_clear_sky_index(climate, days, daily_clear_sky_kwh_m2(location, days), rng)
    site = _pvlib_location(location)
    solar = site.get_solarposition(times)
    clear = site.get_clearsky(times, model="ineichen", solar_position=solar)
    day_index = days.get_indexer(times.normalize())
    kc = kc_day[day_index]
    ghi = clear["ghi"].to_numpy() * kc
    split = pvlib.irradiance.erbs(ghi, solar["zenith"].to_numpy(), times)
    sky = pd.DataFrame({"ghi": ghi, "dni": np.nan_to_num(np.asarray(split["dni"]), nan=0.0),
                        "dhi": np.nan_to_num(np.asarray(split["dhi"]), nan=0.0)}, index=times)
    return SiteWeather(sky, solar, ambient_temperature_c(climate, days, kc_day, times, day_index))


def ambient_temperature_c(climate: Climate, days: pd.DatetimeIndex, kc_day: np.ndarray,
                          times: pd.DatetimeIndex, day_index: np.ndarray) -> np.ndarray:
    """Monthly mean plus a cosine day cycle; clear days swing more. Whole days keep the monthly mean."""
    month_kc = pd.Series(kc_day, index=days).groupby([days.year, days.month]).transform("mean").to_numpy()
    swing_c = climate.diurnal_range_c * (0.5 + 0.5 * kc_day / month_kc)
    hours = times.hour + times.minute / 60.0 + times.second / 3600.0
    mean_c = np.asarray(climate.temp_c)[times.month - 1]
    return mean_c + 0.5 * swing_c[day_index] * np.cos(2 * np.pi * (hours - T_MAX_HOUR) / 24.0)

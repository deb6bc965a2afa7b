"""PV arrays behind their inverters: available power from sun position and weather, and curtailment.

Irradiance comes from ``twin.model.weather`` (pvlib Ineichen clear sky, or days drawn from the
site's climate normals), transposed to each array's tilt and azimuth (Hay-Davies), with cell
temperature, system losses and the inverter's AC limit. Scenario cloud events attenuate it.
The available power is precomputed on a one-minute grid once per run (pvlib is vectorised
and fast on arrays); each step reads the exact interval mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

from twin.config.scenario import CloudEvent
from twin.config.site import Location, PvArray
from twin.model.profiles import IntervalMean
from twin.model.weather import SiteWeather, clear_sky_weather

INVERTER_EFFICIENCY = 0.975  # European-efficiency class of string/central inverters


def cloud_factor(clouds: tuple[CloudEvent, ...], t_s: np.ndarray) -> np.ndarray:
    """1 where the sky is as modelled, ``1 - attenuation`` inside a scenario cloud event."""
    factor = np.ones_like(t_s, dtype=float)
    for cloud in clouds:
        inside = (t_s >= cloud.start_s) & (t_s < cloud.start_s + cloud.duration_s)
        factor[inside] *= 1.0 - cloud.attenuation_pct / 100.0
    return factor


def array_ac_kw(array: PvArray, sky: pd.DataFrame, solar: pd.DataFrame, ambient_c: np.ndarray) -> np.ndarray:
    """AC power an array can deliver (kW) for the given irradiance and ambient temperature."""
    poa = pvlib.irradiance.get_total_irradiance(
        array.tilt_deg, array.azimuth_deg, solar["apparent_zenith"], solar["azimuth"],
        sky["dni"], sky["ghi"], sky["dhi"], dni_extra=pvlib.irradiance.get_extra_radiation(sky.index),
        model="haydavies")
    poa_w_m2 = np.nan_to_num(poa["poa_global"].to_numpy(), nan=0.0).clip(min=0.0)
    cell_c = pvlib.temperature.faiman(poa_w_m2, ambient_c)
    dc_kw = (array.p_peak_kwp * poa_w_m2 / 1000.0 * (1 + array.temp_coeff_pct_per_c / 100.0 * (cell_c - 25.0))
             * (1 - array.system_loss_pct / 100.0))
    return np.minimum(dc_kw * INVERTER_EFFICIENCY, array.inverter_kw)


def available_kw(arrays: tuple[PvArray, ...], weather: SiteWeather, grid_dt_s: float,
                 clouds: tuple[CloudEvent, ...]) -> np.ndarray:
    """AC power each array can deliver at each grid time (columns in site order)."""
    t_s = np.arange(len(weather.sky)) * grid_dt_s
    sky = weather.sky.mul(cloud_factor(clouds, t_s), axis=0)  # a scenario cloud overrides the climate
    return np.column_stack([array_ac_kw(a, sky, weather.solar, weather.ambient_c) for a in arrays])


# clear-sky availability by (arrays, location, clouds, start, grid): the pvlib part of a twin's
# start-up (~0.2 s), which a sweep's runs of one site and day would otherwise each repeat
CLEAR_SKY_CACHE_RUNS = 8
_CLEAR_SKY_KW: dict[str, np.ndarray] = {}


class PvPlant:
    """All PV arrays of the site; the controller curtails each through ``p_limit_pct``."""

    def __init__(self, arrays: tuple[PvArray, ...], location: Location, times: pd.DatetimeIndex,
                 grid_dt_s: float, clouds: tuple[CloudEvent, ...], weather: SiteWeather | None = None) -> None:
        self.names = [a.name for a in arrays]
        self.inverter_kw = np.array([a.inverter_kw for a in arrays])
        self.p_limit_pct = np.full(len(arrays), 100.0)
        self.tripped = np.zeros(len(arrays), dtype=bool)
        if not arrays:
            columns = np.zeros((len(times), 0))
        elif weather is not None:
            columns = available_kw(arrays, weather, grid_dt_s, clouds)
        else:  # a clear sky is the same for every run of this site and day: computed once a process
            key = repr((arrays, location, clouds, times[0], len(times), grid_dt_s))
            columns = _CLEAR_SKY_KW.get(key)
            if columns is None:
                columns = available_kw(arrays, clear_sky_weather(location, times), grid_dt_s, clouds)
                columns.flags.writeable = False  # shared by the runs that find it here
                if len(_CLEAR_SKY_KW) >= CLEAR_SKY_CACHE_RUNS:
                    del _CLEAR_SKY_KW[next(iter(_CLEAR_SKY_KW))]
                _CLEAR_SKY_KW[key] = columns
        self._available = IntervalMean(columns, grid_dt_s)

    def powers(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(available_kw, produced_kw) per array over the step."""
        available = self._available.mean(t0_s, t1_s)
        produced = np.minimum(available, self.p_limit_pct / 100.0 * self.inverter_kw)
        produced[self.tripped] = 0.0
        return available, produced

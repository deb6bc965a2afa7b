"""PV arrays' available AC power from sun position and weather (pvlib).

Irradiance comes from ``twin.model.weather`` (pvlib Ineichen clear sky, or days drawn from
the site's climate normals), transposed to each array's tilt and azimuth (Hay-Davies), with
cell temperature, system losses and the inverter's AC limit. Scenario cloud events
attenuate it. It is computed on the run's profile grid once (pvlib is vectorised and fast
on arrays); ``twin.model.devices.pv`` reads the exact interval mean of each step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

from twin.config.scenario import CloudEvent
from twin.config.site import Location, PvArray
from twin.model.devices.pv import INVERTER_EFFICIENCY
from twin.model.weather import SiteWeather, clear_sky_weather


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


def available_kw(arrays: tuple[PvArray, ...], location: Location, times: pd.DatetimeIndex, grid_dt_s: float,
                 clouds: tuple[CloudEvent, ...], weather: SiteWeather | None = None) -> np.ndarray:
    """AC power each array can deliver at each grid time (columns in site order); a clear sky
    unless ``weather`` is given."""
    if not arrays:
        return np.zeros((len(times), 0))
    if weather is None:
        weather = clear_sky_weather(location, times)
    t_s = np.arange(len(weather.sky)) * grid_dt_s
    sky = weather.sky.mul(cloud_factor(clouds, t_s), axis=0)  # a scenario cloud overrides the climate
    return np.column_stack([array_ac_kw(a, sky, weather.solar, weather.ambient_c) for a in arrays])

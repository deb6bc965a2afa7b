"""A run's PV and building-load profiles on its grid, kept on disk between processes.

The profiles are what pvlib, pandas and scipy are needed for: the sun's position, the
weather drawn from climate normals, each array's transposition and the local clock of the
load profiles (``solar``, ``weather``, ``site_time``). Together those libraries cost a
process ~110 MB and ~1 s of import. A later run of the same profiles (a suite run again, a
sweep's points of one site and weather, a day re-run with another controller) loads them
from ``disk_cache`` and never imports those libraries; the first computes them.

An entry is named by every input the profiles come from (the site's PV arrays, location,
climate and loads, the scenario's start, length, weather model, cloud events and weather
seed, the profile grid), the source of the modules that compute them and the versions of
the libraries they use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from twin.config.scenario import Scenario
from twin.model import disk_cache

CACHE_DIR = disk_cache.ROOT / "profiles"
SOURCES = ("site_profiles.py", "solar.py", "weather.py", "site_time.py", "devices/pv.py")  # pv: INVERTER_EFFICIENCY
PACKAGES = ("pvlib", "pandas", "scipy", "numpy")


@dataclass(frozen=True)
class SiteProfiles:
    """Values at each grid time ``i * grid_s`` from the run's start, one column per element."""

    pv_available_kw: np.ndarray  # AC power each PV array could deliver
    load_p_kw: np.ndarray  # each building load


@cache
def _code_version() -> str:
    return disk_cache.code_version(SOURCES, PACKAGES)


def _uses_climate(scenario: Scenario) -> bool:
    return scenario.weather.model == "climate" and bool(scenario.site.pv)


def profile_key(scenario: Scenario, grid_s: float, weather_seed: np.random.SeedSequence) -> str:
    """Every input the profiles are computed from, as one text."""
    site = scenario.site
    climate = _uses_climate(scenario)
    inputs = {
        "pv": [a.model_dump(mode="json") for a in site.pv],
        "loads": [load.model_dump(mode="json") for load in site.loads],
        "location": site.location.model_dump(mode="json"),
        "climate": site.climate.model_dump(mode="json") if climate else None,
        "weather": scenario.weather.model_dump(mode="json"),
        "seed": [str(weather_seed.entropy), list(weather_seed.spawn_key)] if climate else None,
        "start": scenario.start.isoformat(), "duration_s": scenario.duration_s, "grid_s": grid_s,
    }
    return json.dumps(inputs, sort_keys=True)


def compute(scenario: Scenario, grid_s: float, weather_seed: np.random.SeedSequence) -> SiteProfiles:
    """The profiles, from pvlib and pandas (imported here: a run that finds its profiles kept never needs them)."""
    from twin.model.site_time import hourly_profile_at, local_times
    from twin.model.solar import available_kw
    from twin.model.weather import climate_weather

    site = scenario.site
    times = local_times(scenario.start, site.location.timezone, scenario.duration_s, grid_s)
    weather = None
    if _uses_climate(scenario):
        weather = climate_weather(site.climate, site.location, times, np.random.default_rng(weather_seed))
    pv = available_kw(site.pv, site.location, times, grid_s, scenario.weather.clouds, weather)
    loads = [load.p_peak_kw * hourly_profile_at(load.hourly_profile, times) for load in site.loads]
    load_p = np.column_stack(loads) if loads else np.zeros((len(times), 0))
    return SiteProfiles(np.ascontiguousarray(pv, dtype=float), np.ascontiguousarray(load_p, dtype=float))


def site_profiles(scenario: Scenario, grid_s: float, weather_seed: np.random.SeedSequence,
                  cache_dir: Path | None = None) -> SiteProfiles:
    """The profiles of this run: kept from an earlier process, or computed (and kept)."""
    path = disk_cache.entry_path(cache_dir or CACHE_DIR, _code_version(), profile_key(scenario, grid_s, weather_seed))
    return disk_cache.kept(path, SiteProfiles, lambda: compute(scenario, grid_s, weather_seed))

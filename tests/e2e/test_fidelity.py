"""Annual PV of each reference site against its published figure, from physics and climate only.

Only the PV chain runs (weather, transposition, temperature, losses, clipping) over the
year scenario's span, so the test is quick; the full runs give the same PV energy because
the controllers here never curtail PV. Sites whose published yield the model misses by
more than 10 % are expected failures with the reason; nothing is scaled to fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SCENARIOS
from twin.compare import published_figures
from twin.core import profile_grid_s
from twin.devices.pv import PvPlant
from twin.profiles import local_times
from twin.scenario import load_scenario
from twin.weather import climate_weather

TOLERANCE_PCT = 10.0


def annual_pv_mwh(name: str) -> tuple[float, float]:
    scenario = load_scenario(SCENARIOS / f"year-{name}.toml")
    site = scenario.site
    grid_s = profile_grid_s(scenario.step_s)
    times = local_times(scenario.start, site.location.timezone, scenario.duration_s, grid_s)
    seed = np.random.SeedSequence(scenario.seed).spawn(len(site.vehicles) + 1)[-1]  # as the twin draws it
    weather = climate_weather(site.climate, site.location, times, np.random.default_rng(seed))
    pv = PvPlant(site.pv, site.location, times, grid_s, scenario.weather.clouds, weather)
    simulated = pv.powers(0.0, scenario.duration_s)[0].sum() * scenario.duration_s / 3600 / 1000
    return simulated, float(published_figures(scenario)["pv_yield_mwh"]["value"])


@pytest.mark.parametrize("name", [
    pytest.param("hengqin", marks=pytest.mark.xfail(strict=True, reason=(
        "simulated ~7.9 GWh (~1,100 kWh/kWp) vs published 'over 6.55 GWh' (~913 kWh/kWp), +21 %: the published "
        "figure is a lifetime average with degradation, and the corridor arrays' real orientation and shading "
        "(slopes, sound barriers) are not published; the typed Nanning normals are approximate"))),
    pytest.param("henan", marks=pytest.mark.xfail(strict=True, reason=(
        "simulated ~22.8 GWh (~1,230 kWh/kWp) vs published 19.42 GWh (~1,050 kWh/kWp), +17 %: the NASA-POWER-like "
        "Zhengzhou normals (~1,420 kWh/m2) are above CMA station measurements (~1,300), array tilt and "
        "orientation are assumptions, and the seed does not say which year or whether all 18.46 MWp ran all year"))),
])
def test_annual_pv_within_ten_percent_of_published(name):
    simulated, published = annual_pv_mwh(name)
    assert abs(simulated / published - 1) * 100 <= TOLERANCE_PCT, f"{simulated:.0f} MWh vs {published:.0f} MWh"

"""A run's PV and load profiles are kept on disk: a later process of the same inputs loads them
bit for bit and never imports pandas, pvlib or scipy.stats; any input that changes them names
another entry; a torn entry or an unwritable cache never fails a run."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import HOLIDAY, ROOT, SCENARIOS
from twin.config.scenario import CloudEvent, load_scenario
from twin.model import site_profiles
from twin.model.core import profile_grid_s
from twin.model.devices.pv import PvPlant


def _weather_seed(scenario):
    return np.random.SeedSequence(scenario.seed).spawn(len(scenario.site.vehicles) + 1)[-1]  # as the twin draws it


def _profiles(scenario, cache_dir):
    return site_profiles.site_profiles(scenario, profile_grid_s(scenario.step_s), _weather_seed(scenario), cache_dir)


@pytest.fixture(scope="module")
def year_days():
    """A month of the year scenario (climate weather, drawn by seed), at its 1 h steps."""
    return load_scenario(SCENARIOS / "year-hengqin.toml").with_options(duration_s=30 * 86400.0)


def test_kept_profiles_equal_computed_ones_and_a_later_process_imports_no_pandas(year_days, tmp_path):
    grid_s = profile_grid_s(year_days.step_s)
    computed = site_profiles.compute(year_days, grid_s, _weather_seed(year_days))
    first = _profiles(year_days, tmp_path)
    [entry] = tmp_path.glob("*.pickle")
    kept = _profiles(year_days, tmp_path)
    for profiles in (first, kept):
        assert np.array_equal(profiles.pv_available_kw, computed.pv_available_kw)
        assert np.array_equal(profiles.load_p_kw, computed.load_p_kw)
    days = 30 * 86400 / grid_s
    assert computed.pv_available_kw.shape == (days + 2, len(year_days.site.pv))
    assert computed.pv_available_kw.max() > 0 and computed.load_p_kw.min() > 0

    # a new process: the twin of the same scenario takes the kept profiles and needs none of
    # the libraries that computed them
    script = (
        "import sys; from pathlib import Path; from twin.model import site_profiles; "
        f"site_profiles.CACHE_DIR = Path({str(tmp_path)!r}); "
        "from twin.config.scenario import load_scenario; from twin.model.core import Twin; "
        f"scenario = load_scenario(Path({str(SCENARIOS / 'year-hengqin.toml')!r})).with_options(duration_s=30 * 86400.0); "
        "twin = Twin(scenario); twin.step(scenario.step_s); "
        "print(*(name in sys.modules for name in ('pandas', 'pvlib', 'scipy.stats')), "
        "repr(float(twin.pv.powers(0.0, 86400.0)[0].sum())))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    day_mean_kw = float(PvPlant(year_days.site.pv, computed.pv_available_kw, grid_s).powers(0.0, 86400.0)[0].sum())
    assert done.stdout.split() == ["False", "False", "False", repr(day_mean_kw)]

    entry.write_bytes(b"torn")  # half-written, or from another Python: computed again, never a failure
    again = _profiles(year_days, tmp_path)
    assert np.array_equal(again.pv_available_kw, computed.pv_available_kw)


def test_every_input_of_the_profiles_names_its_own_entry(year_days):
    grid_s = profile_grid_s(year_days.step_s)

    def key(scenario):
        return site_profiles.profile_key(scenario, grid_s, _weather_seed(scenario))

    base = key(year_days)
    site = year_days.site
    changed = [
        year_days.with_options(duration_s=31 * 86400.0),
        year_days.with_options(start=year_days.start + dt.timedelta(days=1)),
        year_days.model_copy(update={"seed": year_days.seed + 1}),  # the climate's days are drawn by seed
        year_days.model_copy(update={"site": site.model_copy(update={"pv": site.pv[:1]})}),
        year_days.model_copy(update={"site": site.model_copy(update={"loads": (
            site.loads[0].model_copy(update={"p_peak_kw": site.loads[0].p_peak_kw + 1.0}), *site.loads[1:])})}),
        year_days.model_copy(update={"weather": year_days.weather.model_copy(update={
            "clouds": (CloudEvent(start_s=0.0, duration_s=3600.0, attenuation_pct=50.0),)})}),
        year_days.model_copy(update={"weather": year_days.weather.model_copy(update={"model": "clear-sky"})}),
    ]
    keys = [key(scenario) for scenario in changed]
    assert base not in keys and len(set(keys)) == len(keys)
    # a clear sky is the same whatever the seed: one entry serves a sweep over seeds
    clear = load_scenario(HOLIDAY)
    assert key(clear) == key(clear.model_copy(update={"seed": clear.seed + 1}))


def test_an_unwritable_cache_still_runs(tmp_path):
    scenario = load_scenario(HOLIDAY).with_options(duration_s=3600.0)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    profiles = _profiles(scenario, blocked / "profiles")
    assert profiles.pv_available_kw.shape[1] == len(scenario.site.pv)
    assert not (blocked / "profiles").exists()

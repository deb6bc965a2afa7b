"""Site and scenario files: the reference sites load, and mistakes name file and field."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import FREIGHT_SITE, HOLIDAY, PASSENGER_SITE
from twin.config.errors import ScenarioError
from twin.config.scenario import load_scenario
from twin.config.site import load_site


def test_reference_sites_carry_the_published_capacities():
    freight = load_site(FREIGHT_SITE)
    assert freight.bess.p_max_kw == 3200 and freight.bess.e_kwh == 7524  # Hengqin seed
    assert {g.name for g in freight.chargers} >= {"truck_dc", "mcs", "car_dc"}
    assert freight.swap is not None and freight.utility.vn_kv == 10
    passenger = load_site(PASSENGER_SITE)
    assert sum(a.p_peak_kwp for a in passenger.pv) == pytest.approx(2800)  # Xianshan seed: 2.8 MWp
    assert passenger.tariff.source and passenger.emissions.source


def _broken(tmp_path, original, old, new):
    text = original.read_text()
    assert old in text, old
    path = tmp_path / original.name
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, field, words", [
    ('\nbus = "lv_bess"', '\nbus = "lv_nowhere"', "bess.bus", "unknown bus 'lv_nowhere'"),
    ("e_kwh = 7524", "e_kwh = -5", "bess.e_kwh", "greater than 0"),
    ("soc_init_pct = 60", "soc_init_pct = 99", "bess", "soc_init_pct"),
    ("p_max_kw = 3200", "p_max_kw = \"lots\"", "bess.p_max_kw", "valid number"),
    ("round_trip_eff_pct = 88", "round_trip_eff_pct = 88\nroundtrip = 1", "bess.roundtrip", "unknown field"),
    ('contract_limit_kw = 4000', '', "utility.contract_limit_kw", "missing"),
    ('lv_bus = "lv_swap"', 'lv_bus = "lv_car"', "buses[7]", "not connected"),
])
def test_site_mistakes_name_file_and_field(tmp_path, old, new, field, words):
    path = _broken(tmp_path, FREIGHT_SITE, old, new)
    with pytest.raises(ScenarioError) as caught:
        load_site(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert words in caught.value.message


def test_toml_syntax_error_names_the_line(tmp_path):
    path = _broken(tmp_path, FREIGHT_SITE, "e_kwh = 7524", "e_kwh = = 7524")
    with pytest.raises(ScenarioError, match=r"line \d+: not valid TOML"):
        load_site(path)


def test_scenario_mistakes(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / FREIGHT_SITE.name).write_text(FREIGHT_SITE.read_text())
    for old, new, field in [('duration = "24h"', 'duration = "soon"', "duration"),
                            ('controller = "peak-shaving"', 'controller = "magic"', "controller"),
                            ('site = "sites/freight-corridor.toml"', 'site = "sites/missing.toml"', "site"),
                            ("start = 2026-10-01T00:00:00+08:00", "start = 2026-10-01T00:00:00", "start")]:
        path = tmp_path / "s.toml"
        path.write_text(HOLIDAY.read_text().replace(old, new))
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        assert caught.value.field == field, (old, caught.value)


def test_cli_reports_a_mistake_in_one_line_with_exit_code_2(tmp_path):
    path = _broken(tmp_path, FREIGHT_SITE, '\nbus = "lv_bess"', '\nbus = "lv_nowhere"')
    done = subprocess.run([sys.executable, "-m", "twin", "validate", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "bess.bus" in done.stderr and str(path.name) in done.stderr
    missing = subprocess.run([sys.executable, "-m", "twin", "run", str(tmp_path / "nope.toml")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "file not found" in missing.stderr and "Traceback" not in missing.stderr
    bad_step = subprocess.run([sys.executable, "-m", "twin", "run", str(HOLIDAY), "--step", "fast"],
                              capture_output=True, text=True, timeout=60)
    assert bad_step.returncode == 2 and "--step" in bad_step.stderr

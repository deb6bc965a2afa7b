"""Plausibility warnings of ``satwin validate`` and the error messages that name what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from twin.config.errors import ScenarioError
from twin.config.plausibility import scenario_warnings, site_warnings
from twin.config.scenario import load_scenario
from twin.config.site import load_site

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "examples" / "sites" / "my-service-area.toml"
SCENARIO = ROOT / "examples" / "my-holiday.toml"


def _edited(tmp_path: Path, original: Path, *edits: tuple[str, str]) -> Path:
    text = original.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / original.name
    path.write_text(text)
    return path


def _satwin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=120)


def test_the_example_site_has_no_warnings():
    assert site_warnings(load_site(SITE)) == []
    assert scenario_warnings(load_scenario(SCENARIO)) == []


@pytest.mark.parametrize("edits, field, words", [
    ([("contract_limit_kw = 2000", "contract_limit_kw = 2.0")], "utility.contract_limit_kw", "is it in MW"),
    ([("contract_limit_kw = 2000", "contract_limit_kw = 9000")], "utility.contract_limit_kw", "feeder carries"),
    ([("contract_limit_kw = 2000", "contract_limit_kw = 3000")], "utility.contract_limit_kw", "transformers at 'mv'"),
    ([("sn_kva = 2500", "sn_kva = 1000")], "transformers[0].sn_kva", "'T1' (1000 kVA) feeds"),
    ([('serves = ["car"]\ncount = 20', 'serves = ["car"]\ncount = 20'), ('name = "car_dc"\nbus = "lv"', 'name = "car_dc"\nbus = "mv"')],
     "chargers[0].bus", "at 10 kV"),
    ([("azimuth_deg = 180", "azimuth_deg = 0")], "pv[0].azimuth_deg", "faces north"),
    ([("daily_vehicles = 250", "daily_vehicles = 0")], "chargers[0].serves", "stay idle"),
])
def test_site_warnings(tmp_path, edits, field, words):
    (tmp_path / "sites").mkdir()
    warnings = site_warnings(load_site(_edited(tmp_path / "sites", SITE, *edits)))
    assert any(w.field == field and words in w.message for w in warnings), warnings


def test_scenario_warnings_for_absent_classes_and_events_after_the_end(tmp_path):
    (tmp_path / "sites").mkdir()
    _edited(tmp_path / "sites", SITE)
    path = _edited(tmp_path, SCENARIO, ("car = 3.0", "car = 3.0\ntruck = 2.0\n\n[[weather.clouds]]\nstart_s = \"26h\"\n"
                                                     "duration_s = \"1h\"\nattenuation_pct = 50"))
    warnings = {w.field: w.message for w in scenario_warnings(load_scenario(path))}
    assert "no 'truck' vehicles" in warnings["traffic.multiplier.truck"]
    assert "after the run ends" in warnings["weather.clouds[0].start_s"]


def test_validate_warns_with_exit_0_and_strict_exits_2(tmp_path):
    path = _edited(tmp_path, SITE, ("contract_limit_kw = 2000", "contract_limit_kw = 2.0"))
    done = _satwin("validate", str(path))
    assert done.returncode == 0, done.stderr
    assert f"warning: {path}: utility.contract_limit_kw: 2 kW is less than" in done.stderr
    strict = _satwin("validate", "--strict", str(path))
    assert strict.returncode == 2 and "--strict: 1 warning" in strict.stderr and "Traceback" not in strict.stderr


def test_a_misspelt_field_is_named_with_the_closest_valid_name(tmp_path):
    path = _edited(tmp_path, SITE, ("p_peak_kwp = 1500", "p_peak_kw = 1500"))
    with pytest.raises(ScenarioError) as caught:
        load_site(path)
    assert caught.value.field == "pv[0].p_peak_kw"
    assert caught.value.message == "unknown field; did you mean 'p_peak_kwp'?"  # not "missing (and 1 more)"


def test_an_unknown_field_with_no_close_name_lists_the_valid_ones(tmp_path):
    path = _edited(tmp_path, SITE, ("[limits]\n", "[limits]\nzzz = 1\n"))
    with pytest.raises(ScenarioError, match=r"limits.zzz: unknown field \(valid here: v_min_pu, v_max_pu"):
        load_site(path)


@pytest.mark.parametrize("old, new, field", [
    ('hv_bus = "mv"', 'hv_bus = "mv_typo"', "transformers[0].hv_bus"),
    ('name = "pv_canopy"\nbus = "lv"', 'name = "pv_canopy"\nbus = "lv2"', "pv[0].bus"),
    ('connection_bus = "mv"', 'connection_bus = "m"', "utility.connection_bus"),
])
def test_every_unknown_bus_error_lists_the_buses(tmp_path, old, new, field):
    with pytest.raises(ScenarioError) as caught:
        load_site(_edited(tmp_path, SITE, (old, new)))
    assert caught.value.field == field and "(buses: mv, lv)" in caught.value.message

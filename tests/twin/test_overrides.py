"""Dotted overrides (``--set``, sweep points): one implementation, checked like a hand-edited file."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SCENARIOS
from tests.e2e.test_cli_run import satwin
from twin.config.errors import ScenarioError
from twin.config.overrides import Origin, parse_assignment
from twin.config.scenario import load_scenario

PASSENGER = SCENARIOS / "holiday-peak-xianshan.toml"


def test_overrides_reach_site_and_scenario_fields():
    s = load_scenario(PASSENGER, {"bess.e_kwh": 1500, "traffic.multiplier.car": 2.5, "duration": "2h",
                                  "chargers[car_south].count": 5, "site.utility.contract_limit_kw": 3000,
                                  "weather.clouds[0].attenuation_pct": 10})
    assert s.site.bess.e_kwh == 1500 and s.traffic.multiplier["car"] == 2.5 and s.duration_s == 7200
    assert {g.name: g.count for g in s.site.chargers}["car_south"] == 5
    assert s.site.utility.contract_limit_kw == 3000 and s.weather.clouds[0].attenuation_pct == 10
    assert load_scenario(PASSENGER).site.bess.e_kwh == 2150  # the files are untouched


@pytest.mark.parametrize("overrides, field, words", [
    ({"bess.e_kwh": -5}, "--set bess.e_kwh", "greater than 0"),
    ({"bes.e_kwh": 1}, "--set bes.e_kwh", "unknown field 'bes'"),
    ({"bess.e_kwhh": 1}, "--set bess.e_kwhh", "unknown field"),
    ({"bess.soc_min_pct": 99}, "--set bess.soc_min_pct", "soc_min_pct must be below"),
    ({"chargers[nope].count": 1}, "--set chargers[nope].count", "no entry named 'nope'"),
    ({"faults[0].start_s": 5}, "--set faults[0].start_s", "out of range"),
    ({"chargers[0].count": 2.5}, "--set chargers[0].count", "valid integer"),
    ({"step": "2h"}, "--set step", "at most 1h"),
])
def test_a_bad_override_names_where_it_was_written(overrides, field, words):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(PASSENGER, overrides)
    assert caught.value.field == field and words in caught.value.message


def test_a_sweep_file_is_named_as_the_origin(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(PASSENGER, {"bess.e_kwh": 0}, Origin(tmp_path / "s.toml", "parameters."))
    assert str(caught.value).startswith(f"{tmp_path / 's.toml'}: parameters.bess.e_kwh: 0:")


def test_assignments_are_read_as_toml_values():
    assert parse_assignment("bess.e_kwh=1500") == ("bess.e_kwh", 1500)
    assert parse_assignment("controller = none") == ("controller", "none")
    assert parse_assignment('duration="2h"') == ("duration", "2h")
    with pytest.raises(ScenarioError):
        parse_assignment("bess.e_kwh")


def test_run_with_set(tmp_path):
    out = tmp_path / "r"
    done = satwin("run", str(PASSENGER), "--set", "bess.e_kwh=1500", "--set", "duration=2h", "--step", "15min",
                  "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    meta = json.loads((out / "run.json").read_text())
    assert meta["bess_e_kwh"] == 1500 and meta["duration_s"] == 7200
    bad = satwin("run", str(PASSENGER), "--set", "bess.e_kwh=-1", "--out", str(tmp_path / "x"), "-q")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--set bess.e_kwh" in bad.stderr
    assert not (tmp_path / "x").exists()

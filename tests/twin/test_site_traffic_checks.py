"""Traffic rules of a site file that the twin relies on: caught by validate, never a KeyError in Twin()."""

from __future__ import annotations

import pytest

from tests.conftest import PASSENGER_SITE, SCENARIOS
from twin.config.errors import ScenarioError
from twin.config.scenario import load_scenario
from twin.config.site import load_site

TRUCK_CLASS = """
[[vehicles]]
name = "truck"
daily_vehicles = {daily}
hourly_profile = [{profile}]
battery_kwh = [300, 400]
arrival_soc_pct = [10, 30]
target_soc_pct = 80
max_charge_kw = 400
max_wait_min = 30
max_dwell_min = 60
balk_queue_len = 5
"""


def _site(tmp_path, replace=("", ""), extra=""):
    text = PASSENGER_SITE.read_text()
    assert replace[0] in text
    path = tmp_path / "site.toml"
    path.write_text(text.replace(*replace, 1) + extra)
    return path


def _scenario(tmp_path, site):
    text = (SCENARIOS / "holiday-peak-xianshan.toml").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("site ="))
    path = tmp_path / "scenario.toml"
    path.write_text(text.replace(line, f'site = "{site}"'))
    return path


def test_overlapping_charger_pools_are_refused(tmp_path):
    # car_south serving cars and trucks while car_north serves cars alone: the two queues of cars
    # overlapped and car_north's connectors never saw a car
    south = 'name = "car_south"\nbus = "lv_charge_south"\nserves = ["car"]'
    site = _site(tmp_path, (south, south.replace('["car"]', '["car", "truck"]')),
                 TRUCK_CLASS.format(daily=40, profile=", ".join(["1.0"] * 24)))
    with pytest.raises(ScenarioError) as caught:
        load_site(site)
    message = str(caught.value)
    assert "chargers[1].serves" in message and "car_north" in message and "car_south" in message


def test_groups_serving_the_same_classes_still_share_one_queue(tmp_path):
    twin_site = load_site(PASSENGER_SITE)
    assert {tuple(g.serves) for g in twin_site.chargers} == {("car",)}  # two groups, one pool: allowed


@pytest.mark.parametrize("daily", [0, 25])
def test_a_vehicle_class_without_a_charger_fails_validation_not_the_twin(tmp_path, daily):
    site = _site(tmp_path, extra=TRUCK_CLASS.format(daily=daily, profile=", ".join(["1.0"] * 24)))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_scenario(tmp_path, site))  # used to pass (daily 0) and then Twin() raised KeyError 'truck'
    assert "vehicles[1]" in str(caught.value) and "truck" in str(caught.value)

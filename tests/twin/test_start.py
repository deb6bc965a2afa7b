"""--start HH:MM: a later start in the scenario's day, faults kept at their clock time."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.errors import ScenarioError
from twin.config.faults import Fault
from twin.config.scenario import load_scenario
from twin.config.start import start_at

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "holiday-peak-freight.toml"


def test_a_later_start_keeps_the_end_and_the_faults_clock_times():
    scenario = load_scenario(SCENARIO)
    scenario = scenario.model_copy(update={"faults": (
        Fault(kind="bess_trip", device="bess", start_s=3600.0, duration_s=600.0),  # over by 17:00: dropped
        Fault(kind="bess_trip", device="bess", start_s=16 * 3600.0, duration_s=2 * 3600.0),  # under way: remainder
        Fault(kind="pv_trip", device="pv_roof", start_s=18 * 3600.0, duration_s=60.0))})  # later: moved
    assert scenario.start.hour == 0 and scenario.duration_s == 24 * 3600.0
    later = start_at(scenario, "17:00")
    assert later.start.hour == 17 and later.start.minute == 0 and later.start.tzinfo == scenario.start.tzinfo
    assert later.duration_s == 7 * 3600.0  # the end stays at midnight
    assert [(f.kind, f.start_s, f.duration_s) for f in later.faults] == [("bess_trip", 0.0, 3600.0),
                                                                         ("pv_trip", 3600.0, 60.0)]


@pytest.mark.parametrize("text", ["7pm", "25:00", "23:59"])
def test_a_start_outside_the_day_or_not_a_time_is_a_one_line_error(text):
    scenario = load_scenario(SCENARIO).with_options(duration_s=6 * 3600.0)
    with pytest.raises(ScenarioError, match="--start"):
        start_at(scenario, text)

"""The bench's part timer: what it counts is what the run did, and it leaves the run unchanged."""

from __future__ import annotations

import json
import math

from tests.twin.shipped_files import SCENARIOS
from twin.app import bench_parts
from twin.config.scenario import load_scenario
from twin.model import core
from twin.run.session import run_scenario

FREIGHT = SCENARIOS / "holiday-peak-freight.toml"


def test_counts_follow_the_model_and_the_run_is_unchanged(tmp_path):
    original_charge = core.Twin._charge
    # one 1 h step: the longest charging part is CHARGING_SUBSTEP_S, so at least 4 parts
    long = bench_parts.timed_run(FREIGHT, tmp_path / "long", 3600.0, 3600.0)
    assert long["steps"] == 1 and not long["missing"]
    assert long["per_step"]["charging parts"] >= math.ceil(3600.0 / core.CHARGING_SUBSTEP_S)
    assert long["per_step"]["SimPy events"] > 0
    assert core.Twin._charge is original_charge  # the timer put every call back

    timed = bench_parts.timed_run(FREIGHT, tmp_path / "timed", 1200.0, 60.0)
    assert timed["steps"] == 20
    assert timed["per_step"]["charging parts"] >= 1.0
    plain = run_scenario(load_scenario(FREIGHT).with_options(duration_s=1200.0, step_s=60.0), tmp_path / "plain")
    timed_kpis = json.loads((tmp_path / "timed" / "kpi.json").read_text())
    assert timed_kpis == plain.kpis

"""Every input that used to pass validation and then crash or hang a run is refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.twin.shipped_files import assert_clear_error, copy_tree, set_value
from twin.app.validate import check_file
from twin.config.errors import ScenarioError

FREIGHT = "sites/freight-corridor.toml"
BASELINE = "weekday-baseline.toml"  # on the freight site

# (file, key, TOML value, nth line with that key, the field the error must name)
CASES = [
    (FREIGHT, "x_ohm_per_km", "0", 0, "lines[0].x_ohm_per_km"),
    (FREIGHT, "x_ohm_per_km", "1e-300", 0, "lines[0].x_ohm_per_km"),
    (FREIGHT, "r_ohm_per_km", "1e308", 0, "lines[0].r_ohm_per_km"),
    (FREIGHT, "length_km", "1e-300", 0, "lines[0].length_km"),
    (FREIGHT, "r_ohm_per_km", "1e-300", 1, "lines[1].r_ohm_per_km"),
    (FREIGHT, "pfe_kw", "1e-300", 0, "transformers[0].pfe_kw"),
    (FREIGHT, "length_km", "inf", 1, "lines[1].length_km"),
    (FREIGHT, "sn_kva", "inf", 0, "transformers[0].sn_kva"),
    (FREIGHT, "sn_kva", "1e308", 0, "transformers[0].sn_kva"),
    (FREIGHT, "sn_kva", "1e-300", 0, "transformers[0].sn_kva"),
    (FREIGHT, "vkr_percent", "9.0", 0, "transformers[0]"),
    (FREIGHT, "vn_lv_kv", "1e308", 0, "transformers[0].vn_lv_kv"),
    (FREIGHT, "altitude_m", "1e308", 0, "location.altitude_m"),
    (FREIGHT, "daily_vehicles", "1e9", 0, "vehicles[0].daily_vehicles"),
    (FREIGHT, "pack_chargers", "1e7", 0, "swap.pack_chargers"),
    (FREIGHT, "v_min_pu", "nan", 0, "limits.v_min_pu"),
    (FREIGHT, "contract_limit_kw", "inf", 0, "utility.contract_limit_kw"),
    (FREIGHT, "export_cny_per_kwh", "inf", 0, "tariff.export_cny_per_kwh"),
    (FREIGHT, "p_max_kw", "inf", 0, "bess.p_max_kw"),
    (FREIGHT, "e_kwh", "inf", 0, "bess.e_kwh"),
    (FREIGHT, "name", '"lv/../x"', 1, "buses[0].name"),
    (BASELINE, "start", "9999-12-31T23:00:00Z", 0, "start"),
    (BASELINE, "duration", "1e30", 0, "duration"),
    (BASELINE, "duration", "inf", 0, "duration"),
    (BASELINE, "duration", "nan", 0, "duration"),
    (BASELINE, "step", "nan", 0, "step"),
    (BASELINE, "step", "1e-300", 0, "step"),
    (BASELINE, "name", '"../../elsewhere"', 0, "name"),
    ("soc-noisy-stuck.toml", "quantum", "0.5\nbias = nan", 0, "sensors[0].bias"),  # a line added after quantum
    ("soc-noisy-stuck.toml", "noise_std", "inf", 0, "sensors[0].noise_std"),
    ("bess-trip-derate.toml", "start_s", "nan", 0, "faults[0].start_s"),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return copy_tree(tmp_path_factory.mktemp("ranges"))


@pytest.mark.parametrize(("name", "key", "value", "nth", "field"), CASES,
                         ids=[f"{c[1]}={c[2]}" for c in CASES])
def test_out_of_range_value_is_named(tree, name, key, value, nth, field):
    path = tree / name
    original = path.read_text(encoding="utf-8")
    path.write_text(set_value(original, key, value, nth), encoding="utf-8")
    scenario = tree / (BASELINE if name == FREIGHT else name)
    try:
        with pytest.raises(ScenarioError) as caught:
            check_file(scenario)
    finally:
        path.write_text(original, encoding="utf-8")
    assert caught.value.field == field, str(caught.value)
    assert_clear_error(caught.value, [path])


def test_the_shortest_step_is_valid(tree):
    path = tree / BASELINE
    original = path.read_text(encoding="utf-8")
    path.write_text(set_value(original, "step", '"0.1s"'), encoding="utf-8")
    try:
        assert check_file(path)[0] == "scenario"
    finally:
        path.write_text(original, encoding="utf-8")


def test_validate_refuses_empty_and_unknown_files_with_exit_2(tmp_path):
    empty, other = tmp_path / "empty.toml", tmp_path / "other.toml"
    empty.write_text("")
    other.write_text('title = "not ours"\n')
    for path, phrase in ((empty, "the file is empty"), (other, "neither a scenario")):
        done = subprocess.run([sys.executable, "-m", "twin", "validate", str(path)], capture_output=True, text=True,
                              timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stderr
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {phrase}"), done.stderr


def test_input_ranges_page_is_generated_from_the_schema():
    from twin.config.ranges import ranges_markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "input-ranges.md"
    assert page.read_text(encoding="utf-8") == ranges_markdown(), "regenerate: python -m twin.config.ranges > docs/input-ranges.md"

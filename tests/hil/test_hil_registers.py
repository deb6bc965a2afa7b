"""The register map as data: exports, generated docs, and a layout pysunspec2 agrees with."""

from __future__ import annotations

import csv
import io
import json

from hil_rig import REFERENCE_SCENARIO, REPO

from hil.maps.profile_docs import site_export
from hil.maps.registers import (
    JSON_KEYS,
    PLAIN_SPECS,
    SUNSPEC_BASE,
    export,
)
from hil.maps.site_map import register_map_of
from twin.config.scenario import load_scenario


def reference_map():
    scenario = load_scenario(REFERENCE_SCENARIO)
    return scenario, register_map_of(scenario)


def test_docs_registers_md_is_generated_from_the_reference_site():
    scenario, _ = reference_map()
    expected = site_export(scenario, "md")
    actual = (REPO / "docs" / "registers.md").read_text()
    assert actual == expected, ("docs/registers.md is stale: run `satwin registers "
                                "scenarios/holiday-peak-freight.toml --format md --out docs/registers.md`")


def test_json_entries_carry_exactly_the_issue_keys():
    _, reg_map = reference_map()
    entries = json.loads(export(reg_map, "json", ""))
    assert entries and all(tuple(entry) == JSON_KEYS for entry in entries)
    assert {e["table"] for e in entries} <= {"holding", "input", "coil", "discrete"}
    assert {e["type"] for e in entries} <= {"uint16", "int16", "uint32", "int32", "float32", "string"}
    assert {e["access"] for e in entries} == {"R", "RW"}
    rows = list(csv.DictReader(io.StringIO(export(reg_map, "csv", ""))))
    assert len(rows) == len(entries) and {"min", "max"} <= set(rows[0])


def test_every_device_has_one_unit_and_the_points_the_issue_names():
    _, reg_map = reference_map()
    units = [d.unit_id for d in reg_map.devices]
    assert len(units) == len(set(units))
    names = {(p.device, p.point): p for p in reg_map.points}
    for device, point, access in [("meter", "p_kw", "R"), ("meter", "q_kvar", "R"), ("meter", "v_pu", "R"),
                                  ("bess", "p_set_kw", "RW"), ("bess", "p_kw", "R"), ("bess", "soc_pct", "R"),
                                  ("bess", "state", "R"), ("site", "ev_cap_kw", "RW"),
                                  ("site", "contract_limit_kw", "R"), ("site", "sim_time_s", "R"),
                                  ("site", "heartbeat", "RW"), ("pv_canopy", "p_limit_pct", "RW"),
                                  ("pv_roof", "p_available_kw", "R"), ("charger_mcs_2", "p_limit_kw", "RW"),
                                  ("charger_car_dc_1", "connected", "R"), ("charger_truck_dc_3", "ev_soc_pct", "R")]:
        assert names[(device, point)].access == access
    assert names[("site", "sim_time_s")].type == "uint32"
    assert names[("bess", "p_kw")].type == "float32"


def test_points_of_a_unit_never_overlap():
    _, reg_map = reference_map()
    for device in reg_map.devices:
        taken: set[int] = set()
        for p in reg_map.of(device.unit_id):
            span = set(range(p.address, p.address + p.count))
            assert not span & taken, (device.name, p.point)
            taken |= span


def test_sunspec_blocks_only_on_pv_bess_and_meter():
    _, reg_map = reference_map()
    with_sunspec = {p.device for p in reg_map.points if p.address >= SUNSPEC_BASE}
    assert with_sunspec == {"meter", "bess", "pv_canopy", "pv_roof"}


def test_device_points_a_sensor_may_act_on_are_plain_map_points():
    from twin.config.sensors import DEVICE_POINTS

    for kind, points in DEVICE_POINTS.items():
        assert set(points) <= {spec.point for spec in PLAIN_SPECS[kind] if spec.command is None}, kind


def test_satwin_registers_exports_the_map_without_building_a_twin(monkeypatch, tmp_path):
    import typer
    from typer.testing import CliRunner

    from hil.cli import register
    from twin.model.core import Twin

    def no_twin(self, *args, **kwargs):
        raise AssertionError("the register map must be a function of the site: no Twin")

    monkeypatch.setattr(Twin, "__init__", no_twin)
    app = typer.Typer()
    register(app)
    for fmt in ("md", "json", "csv"):
        out = tmp_path / f"map.{fmt}"
        result = CliRunner().invoke(app, ["registers", str(REFERENCE_SCENARIO), "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "map.md").read_text() == (REPO / "docs" / "registers.md").read_text()
    assert len(json.loads((tmp_path / "map.json").read_text())) == len(reference_map()[1].points)


def test_exporting_the_map_imports_no_twin():
    """The map is data of the site: its export never loads the model (nor pandapower behind it)."""
    import subprocess
    import sys

    code = ("import sys; from hil.maps.profile_docs import site_export; from twin.config.scenario import load_scenario; "
            f"site_export(load_scenario({str(REFERENCE_SCENARIO)!r}), 'json'); "
            "print(sorted(m for m in ('twin.model.core', 'pandapower') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"

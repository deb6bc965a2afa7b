"""The guides are a contract: every unit id, address and value they quote is checked against the
register map and the reference site (a wrong address in a guide fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hil.datastore.watchdog import safe_ev_cap_kw
from hil.maps.registers import CHARGER_FIRST_UNIT, PV_FIRST_UNIT, build_register_map
from twin.app.cli import load_with_options
from twin.model.core import Twin
from twin.model.devices.bess import BessState

REPO = Path(__file__).resolve().parents[2]
GUIDES = sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "registers.md")  # registers.md is generated
REFERENCE = REPO / "scenarios" / "holiday-peak-freight.toml"


@pytest.fixture(scope="module")
def twin():
    return Twin(load_with_options(REFERENCE))


@pytest.fixture(scope="module")
def reg_map(twin):
    return build_register_map(twin)


def _text() -> str:
    return "\n".join(p.read_text() for p in GUIDES)


def check_addresses(text: str, reg_map) -> list[str]:
    """Every "`device.point` (unit U, address A" a guide quotes, against the map; returns the mistakes."""
    wrong = []
    for device, point, unit, address in re.findall(r"`(\w+)\.(\w+)`\s*\(unit (\d+), address (\d+)", text):
        p = reg_map.point(device, point)
        if (p.unit_id, p.address) != (int(unit), int(address)):
            wrong.append(f"{device}.{point}: guide says unit {unit} address {address}, map has {p.unit_id}/{p.address}")
    return wrong


def test_every_quoted_address_is_the_maps(reg_map):
    text = _text()
    assert re.search(r"`site\.heartbeat` \(unit 1, address \d+", text), "the guide quotes the heartbeat's address"
    assert check_addresses(text, reg_map) == []


def test_a_wrong_address_in_a_guide_is_caught(reg_map):
    assert check_addresses("Write `site.heartbeat` (unit 1, address 14, any value)", reg_map) != []


def test_every_quoted_point_of_a_fixed_unit_exists(reg_map):
    names = {(p.device, p.point) for p in reg_map.points}
    fixed = {d.name for d in reg_map.devices if d.kind in ("site", "meter", "bess", "swap")}
    quoted = set(re.findall(r"`(" + "|".join(fixed) + r")\.([a-z_]+)`", _text()))
    assert quoted and quoted <= names, quoted - names


def test_the_unit_id_table_is_the_maps(reg_map):
    rows = re.findall(r"^\| (\d+)(?:, \d+, …)? \| `(\w+)", (REPO / "docs" / "controller-guide.md").read_text(), re.M)
    by_kind = {d.kind: d.unit_id for d in reg_map.devices if d.kind in ("site", "meter", "bess", "swap")}
    expected = {**{kind: unit for kind, unit in by_kind.items()}, "pv": PV_FIRST_UNIT, "charger": CHARGER_FIRST_UNIT}
    quoted = {name.rstrip("…").split("_")[0]: int(unit) for unit, name in rows if not name.startswith("SunS")}
    assert {k: quoted[k] for k in expected} == expected


def test_the_safe_state_figures_are_the_reference_sites(twin):
    site = twin.site
    loads_kw = sum(load.p_peak_kw for load in site.loads)
    margin_kw = site.watchdog.safe_losses_margin_pct / 100.0 * site.utility.contract_limit_kw
    quoted = (f"{site.utility.contract_limit_kw:.0f} − {loads_kw:.0f} − {margin_kw:.0f} = "
              f"{safe_ev_cap_kw(twin.site):.0f} kW on the reference site")
    text = _text().replace("\n  ", " ")
    assert quoted in text
    assert f"default {site.watchdog.safe_losses_margin_pct:g} %" in text
    assert f"The reference site sets {site.watchdog.heartbeat_timeout_s:g} s" in text


def test_the_state_codes_and_latencies_are_the_models(twin):
    text = _text().replace("\n  ", " ")
    codes = ", ".join(f"{int(state)} {state.name}" for state in BessState)
    assert f"`bess.state` codes: {codes}" in text
    site = twin.site
    groups = {g.name: g for g in site.chargers}
    assert (f"battery {site.bess.command_latency_s:g} s and {site.bess.ramp_kw_per_s:g} kW/s; chargers "
            f"{groups['car_dc'].command_latency_s:g} s and {groups['car_dc'].ramp_kw_per_s:g} kW/s, except "
            f"{groups['mcs'].ramp_kw_per_s:g} kW/s for the MCS connectors") in text
    assert all(g.command_latency_s == groups["car_dc"].command_latency_s for g in site.chargers)
    assert all(g.ramp_kw_per_s == groups["car_dc"].ramp_kw_per_s for g in site.chargers if g.name != "mcs")

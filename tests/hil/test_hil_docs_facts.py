"""The guides are a contract: every unit id, address and value they quote is checked against the
register map and the reference site (a wrong address in a guide fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hil.datastore.watchdog import safe_ev_cap_kw
from hil.maps.electrical import point_reader
from hil.maps.registers import CHARGER_FIRST_UNIT, PV_FIRST_UNIT
from hil.maps.site_map import build_register_map
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
    return build_register_map(twin.site)


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


# -- facts a controller written from the guide alone relies on (issue #13: follow the guide to the letter) --

GUIDE = REPO / "docs" / "controller-guide.md"


def _guide() -> str:
    """The controller guide with its lines joined, so a quoted phrase may span a line break."""
    return re.sub(r"\s*\n\s*", " ", GUIDE.read_text())


def test_the_data_types_are_the_maps(reg_map):
    """"Engineering values are float32 ..., counters and states uint16, sim_time_s a uint32" and the
    step_ack the section 3 table calls a uint32: every plain point of the site, meter, battery,
    swap station, a PV array and a connector, one by one."""
    text = _guide()
    assert "Engineering values are IEEE-754 `float32` in two registers, **high word first**" in text
    assert "Counters and states are `uint16`, and `sim_time_s` is a `uint32`" in text
    assert "`site.step_ack` (uint32, at most `site.step`)" in text
    wide = {("site", "sim_time_s"), ("site", "step"), ("site", "step_ack")}
    plain = [p for p in reg_map.points if p.address < 40000 and p.unit_id in (1, 2, 3, 4, PV_FIRST_UNIT,
                                                                             CHARGER_FIRST_UNIT)]
    assert plain
    for p in plain:
        if (p.device, p.point) in wide:
            assert (p.type, p.count) == ("uint32", 2), p
        elif p.units == "" or p.enum:  # counters, states, flags, the heartbeat
            assert (p.type, p.count) == ("uint16", 1), p
        else:
            assert (p.type, p.count) == ("float32", 2), p


def test_the_writable_ranges_are_the_maps(twin, reg_map):
    """Section 3's "bess.p_set_kw (±rated kW)", "site.ev_cap_kw (0 … ev_p_max_kw)",
    "p_limit_pct (0 … 100", "site.heartbeat (any uint16)" and step_ack's uint32 range."""
    text = _guide()
    for quoted in ("`bess.p_set_kw` (±rated kW)", "`site.ev_cap_kw` (0 … `ev_p_max_kw`)",
                   "`pv….p_limit_pct` (0 … 100, % of that inverter's rating)", "`site.heartbeat` (any uint16)",
                   "`charger_….p_limit_kw` (0 … connector rating)"):
        assert quoted in text, quoted
    site = twin.site
    p_set = reg_map.point("bess", "p_set_kw")
    assert (p_set.min, p_set.max) == (-site.bess.p_max_kw, site.bess.p_max_kw)
    ev_cap = reg_map.point("site", "ev_cap_kw")
    assert ev_cap.min == 0 and ev_cap.max == pytest.approx(float(re.search(r"in 0\.\.(\d+)", ev_cap.description)[1]))
    pv = next(d for d in reg_map.devices if d.kind == "pv")
    assert (reg_map.point(pv.name, "p_limit_pct").min, reg_map.point(pv.name, "p_limit_pct").max) == (0, 100)
    charger = next(d for d in reg_map.devices if d.kind == "charger")
    assert (reg_map.point(charger.name, "p_limit_kw").min, reg_map.point(charger.name, "p_limit_kw").max) == \
        (0, charger.rating_kw)
    assert (reg_map.point("site", "heartbeat").min, reg_map.point("site", "heartbeat").max) == (0, 65535)
    assert (reg_map.point("site", "step_ack").min, reg_map.point("site", "step_ack").max) == (0, 2**32 - 1)


def test_the_defaults_the_guide_quotes_are_the_codes():
    from hil.acceptance import DEFAULT_SPEED, START_TIMEOUT_S
    from hil.serve import DEFAULT_LOCKSTEP_TIMEOUT_S
    from hil.servers.limits import ConnectionLimits
    from twin.run.loop import BEHIND_NICE, BEHIND_YIELD_S

    text = _guide()
    limits = ConnectionLimits()
    assert f"`--max-connections N` (default {limits.max_connections})" in text
    assert f"`--idle-timeout S` (default {limits.idle_timeout_s:g} s)" in text
    assert f"`--lockstep-timeout S` (default {DEFAULT_LOCKSTEP_TIMEOUT_S:g} wall seconds)" in text
    assert f"`--clock paced` with `--speed` (default {DEFAULT_SPEED:g})" in text
    assert f"must write something within {START_TIMEOUT_S:g} wall seconds of being started" in text
    assert f"has taken (at most {BEHIND_YIELD_S * 1e3:g} ms a step)" in " ".join(text.split())
    assert f"the twin's thread runs {BEHIND_NICE} nice levels lower" in " ".join(text.split())


def test_the_audit_summary_kinds_are_the_audits():
    from hil.datastore.audit import SUMMARISED

    text = _guide()
    assert '{"kind": "heartbeats", "first_sim_t_s", "last_sim_t_s", "count", ...}' in text
    for point in SUMMARISED:
        assert f'"kind": "{point}s"' in text, point


def test_start_with_duration_is_as_the_guide_says():
    """"`--start 17:00 --duration 18h` serves 17:00 to 18:00 (`--start 17:00 --duration 1h` is refused"."""
    from twin.config.errors import ScenarioError
    from twin.config.start import start_at

    assert "`--start 17:00 --duration 18h` serves 17:00 to 18:00 (`--start 17:00 --duration 1h` is refused" \
        in _guide()
    served = start_at(load_with_options(REFERENCE, duration="18h"), "17:00")
    assert (served.start.hour, served.start.minute, served.duration_s) == (17, 0, 3600.0)
    with pytest.raises(ScenarioError):
        start_at(load_with_options(REFERENCE, duration="1h"), "17:00")


def test_the_scenarios_the_guide_names_are_what_it_says():
    """Section 9 names the scenarios that stress a controller and what each does."""
    text = _guide()
    delay = load_with_options(REPO / "scenarios" / "meter-delay-30s.toml")
    [sensor] = delay.sensors
    assert (sensor.point, sensor.delay_s, sensor.jitter_s) == ("grid_p_kw", 30.0, 5.0)
    assert "`meter-delay-30s` (the site meter's reading delayed, 30 s with 5 s jitter)" in text
    [sensor] = load_with_options(REPO / "scenarios" / "meter-delay-5s.toml").sensors
    assert (sensor.point, sensor.delay_s) == ("grid_p_kw", 5.0)
    [sensor] = load_with_options(REPO / "scenarios" / "soc-noisy-stuck.toml").sensors
    assert (sensor.point, sensor.noise_std, sensor.stuck_start_s, sensor.stuck_duration_s) == \
        ("bess_soc_pct", 1.5, 17 * 3600.0, 2 * 3600.0)
    assert "`soc-noisy-stuck` (the battery SoC with 1.5 % noise, frozen from 17:00 to 19:00)" in text
    trip = load_with_options(REPO / "scenarios" / "bess-trip-derate.toml")
    assert [(f.kind, f.start_s / 3600, (f.start_s + f.duration_s) / 3600) for f in trip.faults] == \
        [("bess_derate", 10, 16), ("bess_trip", 16, 17)]
    assert trip.faults[0].derate_pct == 50
    assert "`bess-trip-derate` (the battery derated 50 % from 10:00 to 16:00, then tripped until 17:00" in text
    for start in (delay.start, trip.start):
        assert (start.hour, start.minute) == (0, 0)


def test_what_a_replay_does_not_judge_is_the_replays():
    from hil.replay import NOT_REPLAYED

    text = _guide()
    assert NOT_REPLAYED == ("controller healthy: ran", "controller_kept_up")
    assert "`controller_kept_up` and *ran until the end* are not judged" in text


def test_how_satwin_test_waits_for_a_controller_is_as_the_guide_says():
    from hil.acceptance import LOCKSTEP_GIVE_UP, START_TIMEOUT_S
    from hil.serve import ServeOptions

    text = _guide()
    assert f"up to the {START_TIMEOUT_S:g} s a controller has to start under `satwin test`" in text
    assert ServeOptions().first_step_timeout_s is None  # satwin serve: step 1 waits until acknowledged
    assert f"Under lockstep, {LOCKSTEP_GIVE_UP} steps in a row released by the `--lockstep-timeout`" in text
    assert f"(at the latest {START_TIMEOUT_S:g} s after it was started)" in text
    # the behaviour: tests/hil/test_hil_vendor_example.py starts its controller later than the lockstep timeout


def test_every_file_the_controller_guide_names_exists():
    names = set(re.findall(r"[`(](?:\.\./)?((?:examples|tests|hil|twin|docs|scenarios)/[\w/.-]+\.(?:py|md|toml))",
                           GUIDE.read_text()))
    assert {"examples/vendor_ems_from_the_guide.py", "tests/hil/test_hil_vendor_example.py"} <= names
    assert [name for name in sorted(names) if not (REPO / name).exists()] == []


def test_the_battery_rating_point_is_the_rating_under_a_derate(twin, reg_map):
    """"`bess.p_max_kw` stays the rating under a `bess_derate`": its reader publishes the nameplate."""
    from twin.config.faults import Fault

    assert "`bess.p_max_kw` stays the rating under a `bess_derate`" in _guide()
    derated = Twin(load_with_options(REFERENCE))
    derated.schedule_fault(Fault(kind="bess_derate", device="bess", start_s=1.0, duration_s=600.0, derate_pct=50))
    snap = None
    for _ in range(3):
        snap = derated.step(1.0)
    reg_map = build_register_map(derated.site)
    bess = next(d for d in reg_map.devices if d.name == "bess")
    read = point_reader(bess, "p_max_kw", derated)  # what the datastore publishes for the point
    assert read(snap.measured, snap) == twin.site.bess.p_max_kw
    assert derated.battery.p_derate_kw == twin.site.bess.p_max_kw / 2

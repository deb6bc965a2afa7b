"""docs/ocpp-guide.md quotes defaults and measurands: they are the code's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from pathlib import Path

from hil.ocpp import v16, v201
from hil.ocpp_acceptance import run_with_csms
from hil.ocpp.stations import OcppOptions
from hil.ocpp.station import Outgoing, Sample, StationModel

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "ocpp-guide.md").read_text()


def table_row(label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| ([^|]+) \|$", GUIDE, re.MULTILINE)
    assert match, f"the guide has no row for {label}"
    return match.group(1).strip()


def test_defaults_are_the_codes():
    options = OcppOptions("ws://127.0.0.1:9000")
    station = {f.name: f.default for f in dataclasses.fields(StationModel)}
    assert table_row("`--ocpp-version`") == options.version
    assert table_row("`--ocpp-meter-interval`") == f"{options.sample_s:g} s (simulated)"
    assert table_row("heartbeat interval until the boot answer") == f"{station['heartbeat_s']:g} s (simulated)"
    assert table_row("response timeout") == f"{options.response_timeout_s:g} s (wall)"
    low, high = options.backoff_s
    assert table_row("reconnect back-off") == f"{low:g} s doubling to {high:g} s (wall)"
    assert table_row("boot wait before the clock starts") == f"{options.boot_wait_s:g} s (wall)"


def test_measurands_are_what_both_versions_send():
    message = Outgoing("tx_update", dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc), 1, session=1,
                       sample=Sample(1000.0, 20000.0, 29.0, 230.0, 55.0), reason="Periodic")
    documented = re.findall(r"^\| ([A-Za-z.]+) \| (Wh|W|A|V|Percent) \|", GUIDE, re.MULTILINE)
    sent16 = [(v["measurand"], v["unit"]) for v in v16.meter_value(message, "Sample.Periodic")[0]["sampled_value"]]
    sent201 = [(v["measurand"], v["unit_of_measure"]["unit"]) for v in v201.meter_value(message)[0]["sampled_value"]]
    assert documented == sent16 == sent201


def test_acceptance_figures_are_the_codes():
    from hil.ocpp.obeyed import TOLERANCE_KW
    from hil.ocpp_acceptance import LISTEN_WALL_S

    assert f"must listen on it within {LISTEN_WALL_S:g} s" in " ".join(GUIDE.split())
    assert f"it fails above {TOLERANCE_KW:g} kW" in " ".join(GUIDE.split())


def test_bench_setup_is_the_codes():
    import inspect

    from hil.ocpp_bench import BUSY_TRAFFIC, bench_ocpp

    defaults = {name: p.default for name, p in inspect.signature(bench_ocpp).parameters.items()}
    text = " ".join(GUIDE.split())
    assert (f"{defaults['speed']:g}x real time for {defaults['wall_s']:g} s wall, OCPP {defaults['version']} "
            f"with MeterValues every {defaults['sample_s']:g} s") in text
    assert defaults["traffic"] == BUSY_TRAFFIC and f"cars and trucks x{BUSY_TRAFFIC:g}" in text
    from hil.ocpp_bench import bench_scenario

    site = bench_scenario(60.0, BUSY_TRAFFIC).site
    stations = sum(-(-g.count // (g.station_connectors or g.count)) for g in site.chargers if g.protocol != "modbus")
    connectors = sum(g.count for g in site.chargers if g.protocol != "modbus")
    assert f"every station of the freight site ({stations} stations, {connectors} connectors)" in text


def test_the_paced_speed_of_a_suite_against_a_csms_alone_is_the_codes():
    speed = inspect.signature(run_with_csms).parameters["speed"].default
    assert f"`--speed` (simulated seconds per wall second,\ndefault {speed:g})" in GUIDE

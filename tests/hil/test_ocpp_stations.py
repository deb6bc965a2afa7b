"""The chargers as OCPP stations over real websockets on 127.0.0.1, for 1.6J and 2.0.1.

Each run serves the evening peak of the freight site at high speed; the CSMS is either the
built-in reference (``hil.ocpp.csms``) or the minimal scripted one of ``ocpp_rig``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from ocpp_rig import ScriptedCsms, connector_power, events_of, run_served

from hil.ocpp.csms import Policy, ReferenceCsms
from twin.config.faults import Fault
from twin.results.reader import read_meta

VERSIONS = ["1.6", "2.0.1"]
LATENCY_S = 1.0  # the freight site's charger command latency
CAR_CONNECTORS = [f"car_dc_{i}" for i in range(1, 17)]


def seconds(timestamp: str, start: dt.datetime) -> float:
    return (dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")) - start).total_seconds()


def profile(version: str, purpose: str, limit_w: float, pid: int = 1):
    """A one-period Absolute profile on connector/EVSE 0 in W."""
    period = [{"start_period": 0, "limit": limit_w}]
    if version == "1.6":
        purpose = {"station_max": "ChargePointMaxProfile", "tx_default": "TxDefaultProfile"}[purpose]
        return call16.SetChargingProfile(connector_id=0, cs_charging_profiles={
            "charging_profile_id": pid, "stack_level": 0, "charging_profile_purpose": purpose,
            "charging_profile_kind": "Absolute",
            "charging_schedule": {"charging_rate_unit": "W", "charging_schedule_period": period}})
    purpose = {"station_max": "ChargingStationMaxProfile", "tx_default": "TxDefaultProfile"}[purpose]
    return call201.SetChargingProfile(evse_id=0, charging_profile={
        "id": pid, "stack_level": 0, "charging_profile_purpose": purpose, "charging_profile_kind": "Absolute",
        "charging_schedule": [{"id": 1, "charging_rate_unit": "W", "charging_schedule_period": period}]})


def clear(version: str, pid: int):
    return call16.ClearChargingProfile(id=pid) if version == "1.6" else call201.ClearChargingProfile(
        charging_profile_id=pid)


def composite(version: str, connector: int):
    return call16.GetCompositeSchedule(connector_id=connector, duration=600, charging_rate_unit="W") \
        if version == "1.6" else call201.GetCompositeSchedule(duration=600, evse_id=connector, charging_rate_unit="W")


@pytest.fixture(scope="module", params=VERSIONS)
def tx_default_run(request, tmp_path_factory):
    """75 min of the evening peak under the reference CSMS's TxDefaultProfile of 20 kW."""
    csms = ReferenceCsms(Policy(tx_default_kw=20.0), port=0)
    port = csms.start()
    try:
        result, summary = run_served(tmp_path_factory.mktemp("txdefault"), f"ws://127.0.0.1:{port}/ocpp",
                                     request.param, 4500.0)
    finally:
        csms.stop()
    return request.param, result, summary, csms.state


def test_boot_status_and_one_transaction_per_vehicle(tx_default_run):
    version, result, summary, state = tx_default_run
    assert result.status == "completed"
    assert set(state.boots) == {"car_dc", "truck_dc", "mcs"}
    assert state.boots["car_dc"]["model"] == "twin-dc"
    assert all(v.passed for v in result.verdicts if v.criterion.startswith("ocpp station"))
    plugs = [e for e in events_of(result.out_dir, "plug")]
    departures = events_of(result.out_dir, "departure")
    assert len(plugs) >= 10, "the evening peak brings vehicles"
    assert len(state.transactions) == len(plugs)
    closed = [tx for tx in state.transactions.values() if tx.meter_stop_wh is not None]
    assert len(closed) == len(departures) > 0
    occupied = "Charging" if version == "1.6" else "Occupied"
    assert any(status == occupied for _, _, status in state.status_log)


def test_transaction_energy_is_the_recorded_energy(tx_default_run):
    version, result, summary, state = tx_default_run
    t_s, power = connector_power(result.out_dir)
    start = dt.datetime.fromisoformat(read_meta(result.out_dir)["start"])
    names = {"car_dc": [f"car_dc_{i}" for i in range(1, 17)], "truck_dc": [f"truck_dc_{i}" for i in range(1, 11)],
             "mcs": ["mcs_1", "mcs_2"]}
    checked = 0
    for tx in state.transactions.values():
        if tx.meter_stop_wh is None:
            continue
        name = names[tx.station][tx.connector - 1]
        begin, end = seconds(tx.started, start), seconds(tx.stopped, start)
        inside = (t_s >= begin) & (t_s < end)
        recorded_wh = float((power[name][inside] * 1.0).sum()) / 3.6  # 1 s steps: kW·s -> Wh
        metered_wh = tx.meter_stop_wh - tx.meter_start_wh
        assert metered_wh == pytest.approx(recorded_wh, rel=0.005, abs=2.0), (name, tx)
        checked += 1
    assert checked > 0


def test_tx_default_caps_every_connector_within_the_latency(tx_default_run):
    version, result, summary, state = tx_default_run
    t_s, power = connector_power(result.out_dir)
    set_at = [e["t_s"] for e in events_of(result.out_dir, "setpoint") if "ocpp" in e["detail"]]
    assert set_at, "the profile became commands"
    after = t_s > max(set_at) + LATENCY_S + 1.0
    peak_kw = max(float(p[after].max()) for p in power.values())
    assert 19.0 < peak_kw <= 20.0 + 1e-6

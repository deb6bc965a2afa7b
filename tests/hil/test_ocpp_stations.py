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
from ocpp_rig import ScriptedCsms, connector_power, events_of, open_transactions, run_served

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


def remote_stop(version: str, transaction_id):
    return call16.RemoteStopTransaction(transaction_id=transaction_id) if version == "1.6" else \
        call201.RequestStopTransaction(transaction_id=transaction_id)


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


CONNECTORS = {"car_dc": CAR_CONNECTORS, "truck_dc": [f"truck_dc_{i}" for i in range(1, 11)],
              "mcs": ["mcs_1", "mcs_2"]}


def recorded_wh(result, station: str, connector: int, started: str, stopped: str) -> float:
    """What the recording says the connector drew from one OCPP timestamp to another (1 s steps): the
    steps that end from the start (the vehicle plugged in during that one) to the stop, both included."""
    t_s, power = connector_power(result.out_dir)
    start = dt.datetime.fromisoformat(read_meta(result.out_dir)["start"])
    inside = (t_s >= seconds(started, start)) & (t_s <= seconds(stopped, start))
    return float(power[CONNECTORS[station][connector - 1]][inside].sum()) / 3.6  # kW·s -> Wh


def test_transaction_energy_is_the_recorded_energy(tx_default_run):
    version, result, summary, state = tx_default_run
    checked = 0
    for tx in state.transactions.values():
        if tx.meter_stop_wh is None:
            continue
        metered_wh = tx.meter_stop_wh - tx.meter_start_wh
        assert metered_wh == pytest.approx(recorded_wh(result, tx.station, tx.connector, tx.started, tx.stopped),
                                           rel=0.005, abs=2.0), tx
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
    obeyed = [v for v in result.verdicts if v.criterion.startswith("charging profiles obeyed")]
    assert len(obeyed) == 1 and obeyed[0].passed


def car_power(result) -> tuple[np.ndarray, np.ndarray]:
    t_s, power = connector_power(result.out_dir)
    return t_s, np.vstack([power[name] for name in CAR_CONNECTORS])


def charging(seen) -> int:
    """Connectors of car_dc whose last reported state is charging."""
    last = {connector: state for station, connector, state in seen.status if station == "car_dc"}
    return sum(state == "Charging" for state in last.values())


REMOTE_STOP_TRIES = 3


def stop_newest_until_accepted(version: str, seen):
    """Remote-stop the newest open transaction, unless one was stopped already (None: nothing to send).
    The CSMS's view lags the station's: a vehicle may have left with its end still on the way, and the
    station then rightly answers Rejected — the next try picks another."""
    if any(getattr(r, "status", "") == "Accepted" for _, action, r in seen.answers
           if action in ("RemoteStopTransaction", "RequestStopTransaction")):
        return None
    return remote_stop(version, open_transactions(seen, version)[-1][0])


@pytest.fixture(scope="module", params=VERSIONS)
def scripted_run(request, tmp_path_factory):
    """A scripted CSMS: station max 60 kW on car_dc, then a TxDefault of 0, then that cleared."""
    version = request.param
    csms = ScriptedCsms({"car_dc": [
        (0.0, lambda v, _: profile(v, "station_max", 60000.0, pid=1)),
        (0.2, lambda v, _: composite(v, 1)),
        (lambda seen: charging(seen) >= 3, lambda v, _: profile(v, "tx_default", 0.0, pid=2)),
        (1.0, lambda v, _: clear(v, 2)),
        *[(0.5, stop_newest_until_accepted)] * REMOTE_STOP_TRIES]})
    url = csms.start()
    try:
        result, summary = run_served(tmp_path_factory.mktemp("scripted"), url, version, 3000.0)
    finally:
        csms.stop()
    changes = [e["t_s"] for e in events_of(result.out_dir, "charging_profile") + events_of(
        result.out_dir, "charging_profile_cleared") if e["device"] == "car_dc"]
    assert len(changes) == 3, "the script ran within the scenario"
    return version, result, csms.seen, sorted(changes)


def transactions_seen(seen, version: str) -> list[tuple[str, int, float, str, float, str]]:
    """(station, connector, meter start Wh, started, meter stop Wh, stopped) of each closed transaction."""
    def energy(fields) -> float:
        return next(float(v["value"]) for v in fields["meter_value"][0]["sampled_value"]
                    if v["measurand"] == "Energy.Active.Import.Register")

    if version == "1.6":
        starts = {f["transaction_id"]: (station, f) for station, kind, f in seen.tx_events if kind == "start"}
        return [(starts[f["transaction_id"]][0], starts[f["transaction_id"]][1]["connector_id"],
                 starts[f["transaction_id"]][1]["meter_start"], starts[f["transaction_id"]][1]["timestamp"],
                 f["meter_stop"], f["timestamp"]) for _, kind, f in seen.tx_events if kind == "stop"]
    starts = {f["transaction_info"]["transaction_id"]: (station, f) for station, kind, f in seen.tx_events
              if kind == "Started"}
    closed = []
    for _, kind, f in seen.tx_events:
        if kind == "Ended":
            station, begun = starts[f["transaction_info"]["transaction_id"]]
            closed.append((station, begun["evse"]["id"], energy(begun), begun["timestamp"], energy(f), f["timestamp"]))
    return closed


def test_the_minimal_csms_sees_boots_status_and_the_recorded_energy(scripted_run):
    version, result, seen, _ = scripted_run
    assert set(seen.boots) == {"car_dc", "truck_dc", "mcs"}
    assert all(v.passed for v in result.verdicts if v.criterion.startswith("ocpp station"))
    occupied = "Charging" if version == "1.6" else "Occupied"
    assert any(status == occupied for _, _, status in seen.status), "status follows the arrivals"
    started = [f for _, kind, f in seen.tx_events if kind in ("start", "Started")]
    assert len(started) == len(events_of(result.out_dir, "plug")) >= 10, "one transaction per vehicle"
    closed = transactions_seen(seen, version)
    assert closed
    for station, connector, meter_start_wh, begun, meter_stop_wh, ended in closed:
        assert meter_stop_wh - meter_start_wh == pytest.approx(recorded_wh(result, station, connector, begun, ended),
                                                               rel=0.005, abs=2.0), (station, connector, begun)


def test_station_max_is_shared_across_connectors(scripted_run):
    version, result, seen, (max_at, zero_at, cleared_at) = scripted_run
    t_s, power = car_power(result)
    window = (t_s > max_at + LATENCY_S + 1.0) & (t_s < zero_at)
    total_kw = power[:, window].sum(axis=0)
    assert total_kw.max() <= 60.0 + 1e-6
    sharing = ((power[:, window] > 1.0).sum(axis=0) >= 2) & (total_kw > 50.0)
    assert sharing.any(), "two or more vehicles charged at once under the station maximum"
    answer = [response for _, action, response in seen.answers if action == "GetCompositeSchedule"][0]
    periods = (answer.charging_schedule if version == "1.6" else answer.schedule)["charging_schedule_period"]
    assert periods[0]["limit"] == 60000.0


def test_limit_zero_suspends_and_keeps_the_transaction(scripted_run):
    version, result, seen, (max_at, zero_at, cleared_at) = scripted_run
    t_s, power = car_power(result)
    suspended = (t_s > zero_at + LATENCY_S + 1.0) & (t_s <= cleared_at)
    assert suspended.sum() > 10
    assert power[:, suspended].max() == 0.0
    assert any(state == "SuspendedEVSE" for _, _, state in seen.status)
    assert not [e for e in events_of(result.out_dir, "departure") if zero_at < e["t_s"] <= cleared_at]
    stops = [f for _, kind, f in seen.tx_events if kind in ("stop", "Ended") and f.get("reason") != "Remote"
             and f.get("trigger_reason") != "RemoteStop"]
    assert len(stops) == len(events_of(result.out_dir, "departure"))  # a suspension ends no transaction
    resumed = t_s > cleared_at + LATENCY_S + 1.0
    assert power[:, resumed].max() > 1.0


@pytest.mark.parametrize("version", VERSIONS)
def test_comms_loss_reconnects_and_delivers_what_it_queued(version, tmp_path):
    csms = ReferenceCsms(port=0)
    port = csms.start()
    outage = Fault(kind="comms_loss", device="car_dc_1", start_s=300.0, duration_s=600.0)
    try:
        result, summary = run_served(tmp_path, f"ws://127.0.0.1:{port}/ocpp", version, 1500.0, faults=[outage],
                                     backoff_s=(0.05, 0.2))
    finally:
        csms.stop()
    car = summary["stations"]["car_dc"]
    assert car["connects"] >= 2 and car["queued"] == 0 and car["state"] == "online"
    plugs = events_of(result.out_dir, "plug")
    assert len(csms.state.transactions) == len(plugs)  # none lost while offline
    start = dt.datetime.fromisoformat(read_meta(result.out_dir)["start"])
    during = [tx for tx in csms.state.transactions.values() if tx.station == "car_dc"
              and 300.0 <= seconds(tx.started, start) < 900.0]
    assert during, "vehicles arrived during the outage"
    if version == "2.0.1":
        assert csms.state.offline_events > 0  # flagged as queued offline
    assert all(v.passed for v in result.verdicts if v.criterion.startswith("ocpp station"))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_csms_that_never_answers_fails_the_verdict(version, tmp_path):
    csms = ScriptedCsms(silent=True)
    url = csms.start()
    try:
        result, summary = run_served(tmp_path, url, version, 120.0, response_timeout_s=0.5, boot_wait_s=1.0,
                                     backoff_s=(0.2, 0.5))
    finally:
        csms.stop()
    failed = [v for v in result.verdicts if v.criterion.startswith("ocpp station") and not v.passed]
    assert len(failed) == 3
    assert "no answer to BootNotification within 0.5 s" in failed[0].criterion
    assert all(s["boots"] >= 1 and s["sent"] == 0 for s in summary["stations"].values())


def test_remote_stop_ends_the_transaction_and_holds_the_connector(scripted_run):
    version, result, seen, _ = scripted_run
    answers = [response for _, action, response in seen.answers if action in ("RemoteStopTransaction",
                                                                              "RequestStopTransaction")]
    assert [a.status for a in answers].count("Accepted") == 1
    assert len(answers) <= REMOTE_STOP_TRIES
    remote = [f for _, kind, f in seen.tx_events if kind in ("stop", "Ended")
              and (f.get("reason") == "Remote" or f.get("trigger_reason") == "RemoteStop")]
    assert len(remote) == 1
    stopped = [e for e in events_of(result.out_dir, "remote_stop")]
    assert len(stopped) == 1
    connector = int(stopped[0]["detail"].split("connector ")[1].split()[0])
    t_s, power = connector_power(result.out_dir)
    held = t_s > stopped[0]["t_s"] + LATENCY_S + 1.0
    leaves = [e["t_s"] for e in events_of(result.out_dir, "departure") if e["t_s"] > stopped[0]["t_s"]
              and e["device"] == f"car_dc_{connector}"]
    if leaves:
        held &= t_s < leaves[0]
    assert held.sum() > 5 and power[f"car_dc_{connector}"][held].max() == 0.0

"""Hostile OCPP peers on 127.0.0.1: a CSMS that sends malformed frames, unknown actions, a flood
of calls and an oversize frame to a station, and a raw client doing the same to the reference
CSMS. Each gets CallErrors or a closed socket; the station, the twin and the CSMS carry on."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from hil_rig import evening_scenario
from ocpp_rig import SPEED, Raw, ScriptedCsms
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from hil.ocpp.csms import ReferenceCsms
from hil.ocpp.security import MAX_MESSAGE_BYTES
from hil.ocpp.stations import OcppOptions
from hil.serve import ServeOptions, serve

WAIT_S = 5.0
DEADLINE_S = 120.0  # a bound on the wait for the station to work through the frames, not a figure
FLOOD = 500
STATION = "car_dc"


def hostile_frames(version: str) -> list[Raw]:
    """Malformed frames, unknown and unimplemented actions, a bad payload, a flood of calls."""
    schedule = {"connectorId": "one", "duration": 60} if version == "1.6" else {"evseId": "one", "duration": 60}
    frames = [Raw("this is not json"), Raw('{"not": "an array"}'), Raw('[3, "nobody asked", {}]'),
              Raw('[2, "shape"]', "shape"), Raw('[9, "type", "Reset", {}]', "type"),
              Raw('[2, "action-type", ["Reset"], {}]', "action-type"),
              Raw('[2, "unknown", "SelfDestruct", {}]', "unknown"),
              Raw('[2, "unimplemented", "DataTransfer", {"vendorId": "x"}]', "unimplemented"),
              Raw(json.dumps([2, "payload", "GetCompositeSchedule", schedule]), "payload")]
    return frames + [Raw(f'[2, "flood-{i}", "SelfDestruct", {{}}]', f"flood-{i}") for i in range(FLOOD)]


OVERSIZE = Raw(json.dumps([2, "oversize", "DataTransfer", {"vendorId": "x" * MAX_MESSAGE_BYTES}]))


EXPECTED = {"shape": "ProtocolError", "type": "PropertyConstraintViolation", "action-type": "ProtocolError",
            "unknown": "NotSupported", "unimplemented": "NotImplemented"}


def sends(frame: Raw):
    return 0.0, lambda _version, _seen: frame


def served_until(tmp_path, url: str, version: str, done) -> tuple[object, dict]:
    """Serve the evening peak with the chargers on OCPP until ``done(stations)`` holds (checked
    every 50 ms, at most ``DEADLINE_S``), then stop; returns (result, ocpp summary)."""
    stop, ready = threading.Event(), []
    out = tmp_path / "run"
    results = []
    options = OcppOptions(url, version, sample_s=300.0, response_timeout_s=WAIT_S)
    worker = threading.Thread(target=lambda: results.append(serve(
        evening_scenario(4 * 3600.0), out, port=0, options=ServeOptions(speed=SPEED), echo=lambda _text: None,
        ocpp=options, stop=stop, stations_ready=ready.append)))
    worker.start()
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and not (ready and done(ready[0])) and worker.is_alive():
        time.sleep(0.05)
    stop.set()
    worker.join(DEADLINE_S)
    assert not worker.is_alive() and results
    return results[0], json.loads((out / "ocpp_summary.json").read_text())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_hostile_csms_gets_call_errors_and_the_station_carries_on(tmp_path, version, caplog):
    answered = set(EXPECTED) | {"payload"} | {f"flood-{i}" for i in range(FLOOD)}
    # the oversize frame fails the connection, and what was in flight with it: it goes last, alone
    after_the_answers = (lambda seen: set(seen.raw_replies) >= answered, lambda _version, _seen: OVERSIZE)
    csms = ScriptedCsms({STATION: [sends(frame) for frame in hostile_frames(version)] + [after_the_answers]})
    url = csms.start()

    def done(stations) -> bool:  # every frame answered, and the station back after the oversize one
        link = stations.clients.links[STATION]
        return set(csms.seen.raw_replies) >= answered and link.connects >= 2 and link.state == "online"

    try:
        with caplog.at_level(logging.WARNING):
            result, summary = served_until(tmp_path, url, version, done)
    finally:
        csms.stop()
    replies = csms.seen.raw_replies
    codes = {key: replies[key][2] for key in EXPECTED}
    assert codes == EXPECTED
    assert replies["payload"][2] in ("FormatViolation", "TypeConstraintViolation")
    assert set(replies) == answered  # nothing answered the frames without an id, nor the stray CallResult
    assert all(replies[f"flood-{i}"][2] == "NotSupported" for i in range(FLOOD))  # every call answered
    link = summary["stations"][STATION]
    assert link["connects"] >= 2 and link["state"] == "online"  # the oversize frame closed the socket; back
    assert result.status == "interrupted" and result.stats.steps > 0  # stopped by the test, not crashed
    assert all(v.passed for v in result.verdicts if v.criterion.startswith("ocpp station")), result.verdicts
    noisy = [r for r in caplog.records if r.name.split(".")[0] in ("ocpp", "satwin") and "OCPP" in r.getMessage()]
    assert len(noisy) <= 4, [r.getMessage() for r in noisy]  # hundreds of bad frames, a line per interval


def call_error(ws, frame: str) -> list:
    ws.send(frame)
    return json.loads(ws.recv(timeout=WAIT_S))


def test_the_reference_csms_answers_a_hostile_station_and_serves_the_next():
    csms = ReferenceCsms(port=0)
    port = csms.start()
    url = f"ws://127.0.0.1:{port}/ocpp/hostile"
    try:
        with connect(url, subprotocols=["ocpp1.6"], open_timeout=WAIT_S) as ws:
            ws.send("this is not json")
            assert call_error(ws, '[2, "shape"]')[:3] == [4, "shape", "ProtocolError"]
            assert call_error(ws, '[2, "unknown", "SelfDestruct", {}]')[:3] == [4, "unknown", "NotSupported"]
            assert call_error(ws, '[2, "bad", "Heartbeat", {"extra": 1}]')[2] in (
                "FormatViolation", "OccurrenceConstraintViolation", "PropertyConstraintViolation")
            flood = [f'[2, "f{i}", "SelfDestruct", {{}}]' for i in range(FLOOD)]
            for frame in flood:
                ws.send(frame)
            assert [json.loads(ws.recv(timeout=WAIT_S))[1] for _ in flood] == [f"f{i}" for i in range(FLOOD)]
            ws.send("x" * (MAX_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=WAIT_S)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        with connect(url.replace("hostile", "good"), subprotocols=["ocpp1.6"], open_timeout=WAIT_S) as ws:
            boot = [2, "boot", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}]
            answer = call_error(ws, json.dumps(boot))
            assert answer[:2] == [3, "boot"] and answer[2]["status"] == "Accepted"
    finally:
        csms.stop()
    assert "good" in csms.state.boots

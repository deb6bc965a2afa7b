"""OCPP test helpers: a served twin whose chargers connect to a CSMS on 127.0.0.1, and a minimal
CSMS written here on the ocpp library's server side (independent of ``hil.ocpp.csms``)."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hil_rig import evening_scenario
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action as A16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as r201
from ocpp.v201.enums import Action as A201
from websockets.asyncio.server import serve as ws_serve

from hil.ocpp.stations import OcppOptions
from hil.serve import ServeOptions, serve
from twin.results.reader import read_events, read_timeseries

SPEED = 1000.0  # faster than the loop can go on this machine: the tests are not about pacing
NOW = "2026-10-01T10:00:00Z"


def run_served(tmp_path: Path, url: str, version: str, duration_s: float, faults=(), **options):
    """Serve the evening peak for ``duration_s`` with the chargers on OCPP; returns (result, ocpp summary)."""
    scenario = evening_scenario(duration_s)
    if faults:
        scenario = scenario.model_copy(update={"faults": tuple(faults)})
    out = tmp_path / f"run-{version}"
    ocpp = OcppOptions(url, version, **{"sample_s": 300.0, "response_timeout_s": 5.0, **options})
    result = serve(scenario, out, port=0, options=ServeOptions(speed=SPEED), echo=lambda _text: None, ocpp=ocpp)
    return result, json.loads((out / "ocpp_summary.json").read_text())


def connector_power(out_dir: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    table = read_timeseries(out_dir)
    return (np.asarray(table.column("t_s")),
            {c.split(".", 1)[1]: np.asarray(table.column(c)) for c in table.column_names
             if c.startswith("charger_p_kw.")})


def events_of(out_dir: Path, kind: str) -> list[dict]:
    return [e for e in read_events(out_dir).to_pylist() if e["kind"] == kind]


@dataclass
class Seen:
    boots: dict[str, dict] = field(default_factory=dict)
    status: list[tuple[str, int, str]] = field(default_factory=list)
    tx_events: list[tuple[str, str, dict]] = field(default_factory=list)  # (station, kind, payload)
    answers: list[tuple[str, str, object]] = field(default_factory=list)  # (station, action, response)


class ScriptedCsms:
    """Boots and records; after each boot it sends ``script[station]``: (wall seconds to wait, or a
    condition on ``Seen`` to wait for; (version, Seen) -> call)."""

    def __init__(self, script: dict[str, list] | None = None, silent: bool = False) -> None:
        self.script = script or {}
        self.silent = silent
        self.seen = Seen()
        self.port = 0
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            async with ws_serve(self._connect, "127.0.0.1", 0, subprotocols=["ocpp1.6", "ocpp2.0.1"]) as server:
                self.port = server.sockets[0].getsockname()[1]
                ready.set()
                await self._stop.wait()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=lambda: self._loop.run_until_complete(main()), daemon=True)
        self._thread.start()
        assert ready.wait(5)
        return f"ws://127.0.0.1:{self.port}/csms"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    async def _connect(self, websocket) -> None:
        station_id = websocket.request.path.rsplit("/", 1)[1]
        if self.silent:  # accepts the socket, never answers
            async for _ in websocket:
                pass
            return
        cp = (_Csms16 if websocket.subprotocol == "ocpp1.6" else _Csms201)(station_id, websocket)
        cp.test = self
        try:
            await cp.start()
        except Exception:  # the station went away
            pass

    async def run_script(self, cp) -> None:
        for wait, make in self.script.get(cp.id, []):
            if callable(wait):  # a condition on what the stations reported so far
                while not wait(self.seen):
                    await asyncio.sleep(0.02)
            else:
                await asyncio.sleep(wait)
            payload = make(cp.version, self.seen)
            response = await cp.call(payload)
            self.seen.answers.append((cp.id, type(payload).__name__, response))


def open_transactions(seen: Seen, version: str) -> list[tuple[object, int]]:
    """(transaction id, connector) of the transactions started and not ended, oldest first."""
    if version == "1.6":
        started = [(f["transaction_id"], f["connector_id"]) for _, k, f in seen.tx_events if k == "start"]
        ended = {f["transaction_id"] for _, k, f in seen.tx_events if k == "stop"}
    else:
        started = [(f["transaction_info"]["transaction_id"], f["evse"]["id"]) for _, k, f in seen.tx_events
                   if k == "Started"]
        ended = {f["transaction_info"]["transaction_id"] for _, k, f in seen.tx_events if k == "Ended"}
    return [(tx, connector) for tx, connector in started if tx not in ended]


class _Csms16(Cp16):
    version = "1.6"

    @on(A16.boot_notification)
    def boot(self, **fields):
        self.test.seen.boots[self.id] = fields
        return r16.BootNotification(current_time=NOW, interval=60, status="Accepted")

    @after(A16.boot_notification)
    async def booted(self, **_):
        await self.test.run_script(self)

    @on(A16.heartbeat)
    def heartbeat(self):
        return r16.Heartbeat(current_time=NOW)

    @on(A16.status_notification)
    def status(self, connector_id, status, **_):
        self.test.seen.status.append((self.id, connector_id, status))
        return r16.StatusNotification()

    @on(A16.authorize)
    def authorize(self, id_tag):
        return r16.Authorize(id_tag_info={"status": "Accepted"})

    @on(A16.start_transaction)
    def start_tx(self, **fields):
        fields["transaction_id"] = len(self.test.seen.tx_events) + 1
        self.test.seen.tx_events.append((self.id, "start", fields))
        return r16.StartTransaction(transaction_id=fields["transaction_id"], id_tag_info={"status": "Accepted"})

    @on(A16.stop_transaction)
    def stop_tx(self, **fields):
        self.test.seen.tx_events.append((self.id, "stop", fields))
        return r16.StopTransaction()

    @on(A16.meter_values)
    def meter_values(self, **fields):
        self.test.seen.tx_events.append((self.id, "meter", fields))
        return r16.MeterValues()


class _Csms201(Cp201):
    version = "2.0.1"

    @on(A201.boot_notification)
    def boot(self, **fields):
        self.test.seen.boots[self.id] = fields
        return r201.BootNotification(current_time=NOW, interval=60, status="Accepted")

    @after(A201.boot_notification)
    async def booted(self, **_):
        await self.test.run_script(self)

    @on(A201.heartbeat)
    def heartbeat(self):
        return r201.Heartbeat(current_time=NOW)

    @on(A201.status_notification)
    def status(self, evse_id, connector_status, **_):
        self.test.seen.status.append((self.id, evse_id, connector_status))
        return r201.StatusNotification()

    @on(A201.authorize)
    def authorize(self, id_token):
        return r201.Authorize(id_token_info={"status": "Accepted"})

    @on(A201.transaction_event)
    def transaction_event(self, event_type, **fields):
        self.test.seen.tx_events.append((self.id, event_type, fields))
        state = fields["transaction_info"].get("charging_state")
        if state:
            self.test.seen.status.append((self.id, fields.get("evse", {}).get("id", 0), state))
        return r201.TransactionEvent()

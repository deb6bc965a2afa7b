"""The stations' websockets: one asyncio loop in a thread, one client connection per station.

Each station connects to ``URL/<station id>`` with subprotocol ``ocpp1.6`` or ``ocpp2.0.1``,
boots, reports every connector's status and then sends its outbox in order, one call at a
time (OCPP allows one outstanding call per direction). A ``comms_loss`` fault closes the
socket; while it lasts the station keeps its transaction messages, and afterwards it
reconnects with exponential back-off and delivers them. A CSMS that rejects the boot, does
not answer within ``response_timeout_s`` or cannot be reached leaves the station retrying
with back-off; the link's ``state`` and ``last_error`` say why (the run's verdicts quote them).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import math
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import websockets
from ocpp.charge_point import remove_nones, serialize_as_dict
from websockets.asyncio.client import connect

from hil.ocpp import v16, v201
from hil.ocpp.hardening import StrictRouting, bound_library_log
from hil.ocpp.security import MAX_MESSAGE_BYTES
from hil.ocpp.station import Outgoing, StationModel

VERSIONS = {"1.6": v16, "2.0.1": v201}
POLL_S = 0.05  # how often an idle station looks at its outbox and its comms fault without a wake-up
bound_library_log()


@dataclass
class Link:
    """What one station's connection did (read by the report and the verdicts)."""

    state: str = "connecting"  # connecting, booting, online, offline (comms_loss), boot Rejected/Pending
    connects: int = 0
    boots: int = 0
    booted: bool = False  # the CSMS accepted a boot: a reconnect does not boot again
    sent: int = 0
    errors: int = 0
    last_error: str = ""
    round_trips_s: list[float] = field(default_factory=list)
    ages_s: list[float] = field(default_factory=list)  # wall time from queued to answered, per message
    tx_ids: dict[int, int] = field(default_factory=dict)  # 1.6: our session -> the CSMS's transaction id
    wake: asyncio.Event | None = None


class Audit:
    """``ocpp_audit.jsonl``: every call a station sent or received, with wall and sim time."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: TextIO | None = None

    def write(self, model: StationModel, direction: str, action: str, payload, result: str) -> None:
        if self.path is None:
            return
        if self._file is None:
            self._file = self.path.open("a", buffering=1)
        if not isinstance(payload, dict):
            payload = remove_nones(serialize_as_dict(payload))
        record = {"wall_time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
                  "sim_t_s": model.t_s, "station": model.station_id, "direction": direction, "action": action,
                  "payload": payload, "result": result}
        self._file.write(json.dumps(record, default=str) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def audited(base: type) -> type:
    """The version's station class: frames checked before the library routes them
    (``hil.ocpp.hardening``), every call the CSMS sends written to the audit."""

    class Audited(StrictRouting, base):
        def received(self, message) -> None:
            self.audit.write(self.model, "in", message.action, message.payload, "")

    return Audited


class OcppClients:
    def __init__(self, stations: list[StationModel], url: str, version: str = "2.0.1",
                 response_timeout_s: float = 30.0, backoff_s: tuple[float, float] = (0.5, 30.0),
                 audit_path: Path | None = None, passwords: dict[str, str] | None = None,
                 ca_file: Path | None = None) -> None:
        if version not in VERSIONS:
            raise ValueError(f"OCPP version must be one of {', '.join(VERSIONS)}")
        self.stations = stations
        self.url = url.rstrip("/")
        self.protocol = VERSIONS[version]
        self.station_class = audited(self.protocol.Station16 if version == "1.6" else self.protocol.Station201)
        self.response_timeout_s = response_timeout_s
        self.backoff_s = backoff_s
        self.passwords = passwords or {}
        self.ssl = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.links = {s.station_id: Link() for s in stations}
        self.audit = Audit(audit_path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- the run loop's side -------------------------------------------------------------------
    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            ready.set()
            self._loop.run_until_complete(self._main())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="ocpp-stations", daemon=True)
        self._thread.start()
        ready.wait()

    def wake(self) -> None:
        """New messages are in the outboxes (called after each step)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake_all)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def _wake_all(self) -> None:
        for link in self.links.values():
            if link.wake is not None:
                link.wake.set()

    def wait_online(self, timeout_s: float) -> bool:
        """Block until every station has booted, at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(s.online for s in self.stations):
                return True
            time.sleep(0.02)
        return all(s.online for s in self.stations)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every online station has sent its outbox; give up after ``timeout_s`` in
        which none of it was sent. A stall, not a total: on a loaded machine (a CI runner, a
        twin that fell behind) the last minutes' messages take longer than on a quiet one,
        while a dead link sends nothing."""
        deadline, queued_before = time.monotonic() + timeout_s, math.inf
        while time.monotonic() < deadline:
            queued = sum(len(s.outbox) for s in self.stations if s.online)
            if queued == 0:
                return True
            if queued < queued_before:  # progress: the wait starts again
                deadline, queued_before = time.monotonic() + timeout_s, queued
            self.wake()
            time.sleep(0.02)
        return False

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.audit.close()

    # -- the asyncio side ----------------------------------------------------------------------
    async def _main(self) -> None:
        for link in self.links.values():
            link.wake = asyncio.Event()
        await asyncio.gather(*(self._station(s, self.links[s.station_id]) for s in self.stations))

    async def _station(self, model: StationModel, link: Link) -> None:
        delay_s = self.backoff_s[0]
        while not self._stopping:
            if model.comms_lost:
                link.state = "offline (comms_loss)"
                await self._pause(POLL_S, link)
                continue
            headers = {}
            password = self.passwords.get(model.station_id)
            if password is not None:  # security profile 1: HTTP basic auth, user = station id
                token = base64.b64encode(f"{model.station_id}:{password}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            link.state = "connecting"
            try:
                tls = {"ssl": self.ssl} if self.ssl is not None else {}
                async with connect(f"{self.url}/{model.station_id}", subprotocols=[self.protocol.SUBPROTOCOL],
                                   additional_headers=headers, open_timeout=self.response_timeout_s,
                                   ping_interval=None, proxy=None, max_size=MAX_MESSAGE_BYTES, **tls) as ws:
                    link.connects += 1
                    if ws.subprotocol != self.protocol.SUBPROTOCOL:
                        raise ConnectionError(f"the CSMS did not accept subprotocol {self.protocol.SUBPROTOCOL}")
                    station = self.station_class(model, ws, self.response_timeout_s, link.tx_ids, self.audit)
                    reader = asyncio.create_task(station.start())
                    try:
                        if await self._online(station, model, link):
                            delay_s = self.backoff_s[0]
                    finally:
                        reader.cancel()
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException,
                    ConnectionError) as exc:
                link.errors += 1
                link.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if link.state == "online":
                    link.state = "reconnecting"
            model.online = False
            if self._stopping:
                break
            await self._pause(delay_s, link)
            delay_s = min(delay_s * 2, self.backoff_s[1])

    async def _pause(self, seconds: float, link: Link) -> None:
        """Sleep, but wake early when stopping."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    async def _online(self, station, model: StationModel, link: Link) -> bool:
        """Boot, report, then send the outbox until the socket drops, a comms fault or the stop.
        True when the station got online (the back-off starts over)."""
        if not link.booted and not await self._boot(station, model, link):
            return False
        link.booted = True
        model.online = True
        link.state = "online"
        for message in model.current_status():
            await self._send(station, model, link, message)
        while not self._stopping and not model.comms_lost:
            if model.outbox:
                message = model.outbox[0]
                await self._send(station, model, link, message)
                link.ages_s.append(time.monotonic() - message.queued_s)
                with model.lock:
                    if model.outbox and model.outbox[0] is message:
                        model.outbox.popleft()
                continue
            link.wake.clear()
            try:
                await asyncio.wait_for(link.wake.wait(), POLL_S)
            except asyncio.TimeoutError:
                pass
        model.online = False
        if model.comms_lost:
            link.state = "offline (comms_loss)"
        return True

    async def _boot(self, station, model: StationModel, link: Link) -> bool:
        link.state = "booting"
        while not self._stopping and not model.comms_lost:
            link.boots += 1
            response = await self._call(station, model, link, station.boot_call())
            if response is not None and response.status == "Accepted":
                if response.interval > 0:
                    model.heartbeat_s = float(response.interval)
                return True
            status = "CallError" if response is None else response.status
            link.state = f"boot {status}"
            link.last_error = f"BootNotification answered {status}"
            retry_s = response.interval if response is not None and response.interval > 0 else self.backoff_s[0]
            await self._pause(min(retry_s, self.backoff_s[1]), link)
        return False

    async def _send(self, station, model: StationModel, link: Link, message: Outgoing) -> None:
        calls = [station.boot_call()] if message.kind == "boot" else station.calls(message)
        for payload in calls:
            response = await self._call(station, model, link, payload)
            station.took(message, response)

    async def _call(self, station, model: StationModel, link: Link, payload):
        """One call; a CallError is counted and answers None, a timeout drops the connection."""
        action = type(payload).__name__
        started = time.perf_counter()
        try:
            response = await station.call(payload)
        except asyncio.TimeoutError:
            self.audit.write(model, "out", action, payload, "timeout")
            raise asyncio.TimeoutError(f"no answer to {action} within {self.response_timeout_s:g} s") from None
        link.round_trips_s.append(time.perf_counter() - started)
        link.sent += 1
        if response is None:
            link.errors += 1
        self.audit.write(model, "out", action, payload, "CallError" if response is None else
                         str(getattr(response, "status", "ok")))
        return response

"""``satwin csms``: a reference charging-management system (CSMS) built on the ocpp library.

It accepts OCPP 1.6J and 2.0.1 stations at ``ws://HOST:PORT/<anything>/<station id>``,
accepts every boot and id token, and records what the stations report (status, transactions
with their meter start/stop, meter values) in ``CsmsState``. Its charging policy is the
reference EMS's peak-shaving intent in OCPP terms:

* ``ev_cap_kw``: the site's EV charging is kept under this cap with one station maximum
  profile per station (ChargePointMaxProfile / ChargingStationMaxProfile, in W), the cap
  split across the stations by their occupied connectors and re-sent every
  ``reallocate_s`` wall seconds when a share moved by more than 5 %.
* ``tx_default_kw``: a TxDefaultProfile on connector/EVSE 0 (all connectors) at boot.

Who may connect (TLS, basic auth, an address allow-list) is ``hil.ocpp.security``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from dataclasses import dataclass, field

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.server import serve

from hil.ocpp.hardening import StrictRouting, bound_library_log
from hil.ocpp.schedule import ocpp_time
from hil.ocpp.security import MAX_MESSAGE_BYTES, CsmsSecurity

SUBPROTOCOLS = ["ocpp2.0.1", "ocpp1.6"]
SHARE_TOLERANCE = 0.05
bound_library_log()


@dataclass
class Transaction:
    station: str
    connector: int
    id_token: str
    meter_start_wh: float
    started: str
    meter_stop_wh: float | None = None
    stopped: str | None = None
    samples: int = 0
    last_energy_wh: float | None = None


@dataclass
class CsmsState:
    """What the stations told the CSMS (read by tests, the bench and ``satwin csms``)."""

    boots: dict[str, dict] = field(default_factory=dict)
    status: dict[tuple[str, int], str] = field(default_factory=dict)
    status_log: list[tuple[str, int, str]] = field(default_factory=list)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    offline_events: int = 0
    profiles_sent: list[tuple[str, str, float]] = field(default_factory=list)  # (station, purpose, W)
    messages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def occupied(self, station: str) -> int:
        return sum(1 for (s, _), v in self.status.items() if s == station and v not in ("Available", "Unavailable",
                                                                                         "Faulted"))


def energy_of(meter_value: list[dict] | None) -> float | None:
    for value in meter_value or []:
        for sample in value.get("sampled_value", []):
            if sample.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                return float(sample["value"])
    return None


class _Common:
    """What both versions' CSMS sides share: the state, the heartbeat interval, the policy."""

    def setup(self, state: CsmsState, policy: Policy) -> None:
        self.state, self.policy = state, policy
        self.station_max_w: float | None = None

    def seen(self) -> None:
        with self.state.lock:
            self.state.messages += 1

    def set_status(self, connector: int, status: str) -> None:
        with self.state.lock:
            self.state.status[(self.id, connector)] = status
            self.state.status_log.append((self.id, connector, status))
            self.state.messages += 1

    async def run_policy(self) -> None:
        """After the boot: a TxDefault profile, then station maximum shares of the EV cap."""
        await asyncio.sleep(0.05)  # let the boot answer go out first
        if self.policy.tx_default_kw is not None:
            await self.send_profile("tx_default", self.policy.tx_default_kw * 1000.0)
        while self.policy.ev_cap_kw is not None:
            share_w = self.policy.share_w(self.state, self.id)
            if self.station_max_w is None or abs(share_w - self.station_max_w) > SHARE_TOLERANCE * max(
                    self.station_max_w, 1.0):
                self.station_max_w = share_w
                await self.send_profile("station_max", share_w)
            await asyncio.sleep(self.policy.reallocate_s)

    async def send_profile(self, purpose: str, limit_w: float) -> None:
        await self.call(self.profile_call(purpose, round(limit_w)))
        with self.state.lock:
            self.state.profiles_sent.append((self.id, purpose, limit_w))


@dataclass
class Policy:
    ev_cap_kw: float | None = None
    tx_default_kw: float | None = None
    reallocate_s: float = 2.0
    heartbeat_s: int = 300

    def share_w(self, state: CsmsState, station: str) -> float:
        """The station's share of the EV cap: by occupied connectors, each station at least one share."""
        with state.lock:
            stations = list(state.boots)
            weights = {s: max(1, state.occupied(s)) for s in stations}
        return self.ev_cap_kw * 1000.0 * weights.get(station, 1) / max(1, sum(weights.values()))


class Csms16(StrictRouting, _Common, Cp16):
    @on(Action16.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **extra):
        with self.state.lock:
            self.state.boots[self.id] = {"version": "1.6", "vendor": charge_point_vendor,
                                         "model": charge_point_model, **extra}
        return result16.BootNotification(current_time=now_text(), interval=self.policy.heartbeat_s,
                                         status="Accepted")

    @after(Action16.boot_notification)
    async def after_boot(self, **_):
        await self.run_policy()

    @on(Action16.heartbeat)
    def on_heartbeat(self):
        self.seen()
        return result16.Heartbeat(current_time=now_text())

    @on(Action16.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str, **_):
        self.set_status(connector_id, status)
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag: str):
        self.seen()
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action16.start_transaction)
    def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_):
        with self.state.lock:
            tx_id = len(self.state.transactions) + 1
            self.state.transactions[str(tx_id)] = Transaction(self.id, connector_id, id_tag, meter_start, timestamp)
            self.state.messages += 1
        return result16.StartTransaction(transaction_id=tx_id, id_tag_info={"status": "Accepted"})

    @on(Action16.stop_transaction)
    def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **_):
        with self.state.lock:
            tx = self.state.transactions.get(str(transaction_id))
            if tx is not None:
                tx.meter_stop_wh, tx.stopped = meter_stop, timestamp
            self.state.messages += 1
        return result16.StopTransaction()

    @on(Action16.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list, transaction_id=None, **_):
        with self.state.lock:
            tx = self.state.transactions.get(str(transaction_id))
            if tx is not None:
                tx.samples += 1
                tx.last_energy_wh = energy_of(meter_value)
            self.state.messages += 1
        return result16.MeterValues()

    def profile_call(self, purpose: str, limit_w: float):
        profile = {"charging_profile_id": 1 if purpose == "station_max" else 2, "stack_level": 0,
                   "charging_profile_purpose": "ChargePointMaxProfile" if purpose == "station_max"
                   else "TxDefaultProfile", "charging_profile_kind": "Absolute",
                   "charging_schedule": {"charging_rate_unit": "W",
                                         "charging_schedule_period": [{"start_period": 0, "limit": limit_w}]}}
        return call16.SetChargingProfile(connector_id=0, cs_charging_profiles=profile)


class Csms201(StrictRouting, _Common, Cp201):
    @on(Action201.boot_notification)
    def on_boot(self, charging_station: dict, reason: str, **_):
        with self.state.lock:
            self.state.boots[self.id] = {"version": "2.0.1", **charging_station}
        return result201.BootNotification(current_time=now_text(), interval=self.policy.heartbeat_s,
                                          status="Accepted")

    @after(Action201.boot_notification)
    async def after_boot(self, **_):
        await self.run_policy()

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_):
        self.seen()
        return result201.Heartbeat(current_time=now_text())

    @on(Action201.status_notification)
    def on_status(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_):
        self.set_status(evse_id, connector_status)
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict, **_):
        self.seen()
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int,
                             transaction_info: dict, meter_value=None, offline=None, evse=None, id_token=None, **_):
        tx_id = transaction_info["transaction_id"]
        energy_wh = energy_of(meter_value)
        with self.state.lock:
            state = self.state
            state.messages += 1
            state.offline_events += bool(offline)
            if event_type == "Started":
                state.transactions[tx_id] = Transaction(self.id, (evse or {}).get("id", 0),
                                                        (id_token or {}).get("id_token", ""), energy_wh, timestamp)
            tx = state.transactions.get(tx_id)
            if tx is not None:
                tx.samples += 1
                tx.last_energy_wh = energy_wh
                if "charging_state" in transaction_info:
                    state.status_log.append((self.id, tx.connector, transaction_info["charging_state"]))
                if event_type == "Ended":
                    tx.meter_stop_wh, tx.stopped = energy_wh, timestamp
        return result201.TransactionEvent(id_token_info={"status": "Accepted"} if id_token else None)

    @on(Action201.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list, **_):
        self.seen()
        return result201.MeterValues()

    def profile_call(self, purpose: str, limit_w: float):
        profile = {"id": 1 if purpose == "station_max" else 2, "stack_level": 0,
                   "charging_profile_purpose": "ChargingStationMaxProfile" if purpose == "station_max"
                   else "TxDefaultProfile", "charging_profile_kind": "Absolute",
                   "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                          "charging_schedule_period": [{"start_period": 0, "limit": limit_w}]}]}
        return call201.SetChargingProfile(evse_id=0, charging_profile=profile)


def now_text() -> str:
    """The CSMS's own (wall) clock; stations stamp their messages in simulated time."""
    return ocpp_time(dt.datetime.now(dt.timezone.utc))


class ReferenceCsms:
    """The CSMS in its own thread and event loop (``start`` returns the bound port)."""

    def __init__(self, policy: Policy | None = None, host: str = "127.0.0.1", port: int = 9000,
                 security: CsmsSecurity | None = None) -> None:
        self.policy = policy or Policy()
        self.security = security or CsmsSecurity()
        self.state = CsmsState()
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.connections: dict[str, object] = {}

    async def _on_connect(self, websocket) -> None:
        station_id = websocket.request.path.split("?")[0].rstrip("/").rpartition("/")[2]  # the last segment
        if not websocket.subprotocol or not station_id:
            await websocket.close()
            return
        if not self.security.station_may_connect(station_id, getattr(websocket, "username", None)):
            await websocket.close(1008, "the basic-auth user is not this station")
            return
        kind = Csms16 if websocket.subprotocol == "ocpp1.6" else Csms201
        station = kind(station_id, websocket)
        station.setup(self.state, self.policy)
        self.connections[station_id] = station
        try:
            await station.start()
        except websockets.exceptions.ConnectionClosed:
            pass

    async def serve_until_stopped(self, ready: threading.Event | None = None) -> None:
        self._stop = asyncio.Event()
        async with serve(self._on_connect, self.host, self.port, subprotocols=SUBPROTOCOLS,
                         ssl=self.security.ssl_context(), process_request=self.security.process_request(),
                         max_size=MAX_MESSAGE_BYTES) as server:
            self.port = server.sockets[0].getsockname()[1]
            if ready is not None:
                ready.set()
            await self._stop.wait()

    def start(self) -> int:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.serve_until_stopped(ready))
            except OSError as exc:
                errors.append(exc)
                ready.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="reference-csms", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        if errors:
            raise errors[0]
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5.0)

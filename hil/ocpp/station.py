"""One OCPP charging station as the twin drives it — sessions, status, meter register, profiles.

No sockets and no ocpp library here: ``StationModel.step`` turns a step of the twin (its
snapshot and events) into version-neutral ``Outgoing`` messages in the station's outbox,
and ``limits_kw`` turns the station's charging profiles into per-connector limits. The
websocket client (``hil.ocpp.client``) sends the outbox and answers the CSMS's calls by
calling into this model under its lock.

Status vocabulary is OCPP 1.6's (Available, Preparing, Charging, SuspendedEVSE, SuspendedEV,
Finishing, Faulted, Unavailable); the 2.0.1 translation maps it to connector status plus
the transaction's charging state.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from hil.ocpp.schedule import (
    PURPOSES,
    Profile,
    ProfileError,
    Supply,
    composite_periods,
    connector_limit_kw,
    parse_profile,
    share_kw,
    station_limit_kw,
)

TX_KINDS = ("tx_start", "tx_update", "tx_stop")  # kept while offline and delivered on reconnect
IDLE_KW = 0.01  # below this a connector draws nothing
MAX_OUTBOX = 20000  # a station offline for days drops its oldest queued meter values beyond this


@dataclass(frozen=True, slots=True)
class Sample:
    energy_wh: float
    power_w: float
    current_a: float
    voltage_v: float
    soc_pct: float

    def measurands(self) -> list[tuple[str, float, str]]:
        """(measurand, value, unit) as every meter value reports them, in both versions."""
        return [("Energy.Active.Import.Register", self.energy_wh, "Wh"), ("Power.Active.Import", self.power_w, "W"),
                ("Current.Import", self.current_a, "A"), ("Voltage", self.voltage_v, "V"),
                ("SoC", self.soc_pct, "Percent")]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message for the CSMS, version-neutral; ``connector`` counts from 1 within the station."""

    kind: str  # status, authorize, tx_start, tx_update, tx_stop, heartbeat
    timestamp: dt.datetime
    connector: int = 0
    status: str = ""
    session: int = 0  # the station's own number of the transaction (1.6 ids come from the CSMS)
    id_token: str = ""
    sample: Sample | None = None
    reason: str = ""  # why a tx message is sent: Periodic, ChargingStateChanged, EVDisconnected ...
    offline: bool = False
    seq_no: int = 0
    queued_s: float = field(default_factory=time.monotonic)  # wall clock: the bench reports message ages


@dataclass
class Session:
    number: int
    vehicle_id: int
    id_token: str
    start: dt.datetime
    meter_start_wh: float
    seq_no: int = 0

    def next_seq(self) -> int:
        self.seq_no += 1
        return self.seq_no - 1


@dataclass
class Connector:
    number: int
    slot: int  # the twin's connector index
    name: str
    rated_kw: float
    bus: int  # index of its bus in the snapshot's v_pu
    energy_wh: float = 0.0
    status: str = "Available"
    session: Session | None = None
    unavailable: bool = False
    held: bool = False  # stopped remotely: no power until the vehicle leaves


@dataclass
class StationModel:
    station_id: str
    vendor: str
    model: str
    serial: str
    connectors: list[Connector]
    supply: Supply
    start: dt.datetime  # scenario start: OCPP time = start + simulated seconds
    sample_s: float = 60.0
    heartbeat_s: float = 300.0  # until the CSMS's BootNotification answer says otherwise
    online: bool = False  # set by the client: booted and connected
    comms_lost: bool = False  # a comms_loss fault on the station
    outbox: deque = field(default_factory=deque)
    profiles: list[Profile] = field(default_factory=list)
    profile_log: list[tuple[str, float, str]] = field(default_factory=list)  # (kind, limit, detail) for the twin's events
    lock: threading.Lock = field(default_factory=threading.Lock)
    t_s: float = 0.0
    sessions_started: int = 0
    _samples: tuple = (None, None, None)  # the step's (power_kw, soc_pct, v_pu) arrays
    _last_heartbeat_s: float = 0.0
    _profiles_rev: int = 0
    _composite_key: tuple | None = None
    _composite: tuple = (None, None)
    _queued: int = 0  # messages put since the client was last woken
    _last_sample_k: int = 0

    def now(self, t_s: float | None = None) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.t_s if t_s is None else t_s)

    # -- the twin's step -> messages -----------------------------------------------------
    def step(self, t_s: float, dt_s: float, power_kw: np.ndarray, soc_pct: np.ndarray, v_pu: np.ndarray,
             faulted: np.ndarray, wanted_kw: np.ndarray, plugs: list[tuple[int, int]],
             departures: list[int], comms_lost: bool) -> None:
        """One step: ``plugs`` (slot, vehicle id) and ``departures`` (slot) happened inside it;
        ``power_kw`` is each connector's metered power over it (indexed by twin slot)."""
        with self.lock:
            self.t_s, self.comms_lost = t_s, comms_lost
            self._samples = (power_kw, soc_pct, v_pu)
            now = self.now()
            by_slot = {c.slot: c for c in self.connectors}
            before_wh = {c.slot: c.energy_wh for c in self.connectors}
            # the register at ``now`` includes this step: a vehicle that left during it drew its last
            # part of the step in its transaction (stamped ``now``, like a stop between two steps); one
            # that plugged in started from the register before the step, the connector was idle till
            # then — unless another vehicle left it in the same step
            for c in self.connectors:
                c.energy_wh += float(power_kw[c.slot]) * dt_s / 3.6
            for slot in departures:
                if slot in by_slot:
                    c = by_slot[slot]
                    c.held = False
                    self._stop(c, now, "EVDisconnected")
                    self._set_status(c, "Available", now)  # also after a remote stop
            for slot, vehicle_id in plugs:
                if slot in by_slot:
                    self._plug(by_slot[slot], vehicle_id, now, None if slot in departures else before_wh[slot])
            limits = self._ocpp_limits_kw()
            for c, limit_kw in zip(self.connectors, limits):
                self._set_status(c, self._status(c, faulted[c.slot], limit_kw, wanted_kw[c.slot]), now)
            k = int(t_s // self.sample_s)
            if k != self._last_sample_k:
                self._last_sample_k = k
                for c in self.connectors:
                    if c.session is not None:
                        self._tx(c, now, "Periodic")
            if self.online and t_s - self._last_heartbeat_s >= self.heartbeat_s:
                self._last_heartbeat_s = t_s
                self._put(Outgoing("heartbeat", now))

    def _plug(self, c: Connector, vehicle_id: int, now: dt.datetime, start_wh: float | None) -> None:
        """A transaction from ``start_wh`` (None: the register now)."""
        self.sessions_started += 1
        token = f"EV{vehicle_id:06d}"
        self._set_status(c, "Preparing", now)
        self._put(Outgoing("authorize", now, c.number, id_token=token))
        sample = self._sample(c)
        if start_wh is not None:
            sample = replace(sample, energy_wh=start_wh)
        c.session = Session(self.sessions_started, vehicle_id, token, now, sample.energy_wh)
        self._put(Outgoing("tx_start", now, c.number, session=c.session.number, id_token=token,
                           sample=sample, reason="CablePluggedIn", seq_no=c.session.next_seq()))

    def _stop(self, c: Connector, now: dt.datetime, reason: str) -> None:
        session = c.session
        if session is None:
            return
        self._set_status(c, "Finishing", now)
        self._put(Outgoing("tx_stop", now, c.number, session=session.number, id_token=session.id_token,
                           sample=self._sample(c), reason=reason, seq_no=session.next_seq()))
        c.session = None
        # a TxProfile lives as long as its transaction
        self._set_profiles([p for p in self.profiles if not (p.purpose == "tx" and p.connector == c.number)])
        if not c.held:
            self._set_status(c, "Available", now)

    def remote_stop(self, number: int) -> bool:
        """RemoteStop / RequestStop of the station's ``number``-th transaction: it ends now, and the
        connector gives no power until the vehicle leaves (which it does at its dwell limit)."""
        with self.lock:
            for c in self.connectors:
                if c.session is not None and c.session.number == number:
                    c.held = True
                    self._profiles_rev += 1  # the limit changes
                    self.profile_log.append(("remote_stop", 0.0, f"transaction {self.transaction_id(c.session)} "
                                             f"on connector {c.number} stopped by the CSMS"))
                    self._stop(c, self.now(), "Remote")
                    return True
            return False

    def session_number(self, transaction_id: str) -> int | None:
        """Our number of a running transaction named by its 2.0.1 id."""
        with self.lock:
            return next((c.session.number for c in self.connectors
                         if c.session is not None and self.transaction_id(c.session) == transaction_id), None)

    def _tx(self, c: Connector, now: dt.datetime, reason: str) -> None:
        self._put(Outgoing("tx_update", now, c.number, session=c.session.number, id_token=c.session.id_token,
                           sample=self._sample(c), reason=reason, status=c.status, seq_no=c.session.next_seq()))

    def _status(self, c: Connector, faulted: bool, limit_kw: float, wanted_kw: float) -> str:
        if faulted:
            return "Faulted"
        if c.held:
            return "Finishing"
        if c.unavailable and c.session is None:
            return "Unavailable"
        if c.session is None:
            return "Available"
        if limit_kw <= 0.0:
            return "SuspendedEVSE"  # the transaction stays open
        if wanted_kw <= 0.0:
            return "SuspendedEV"  # full, or its own taper reached nothing
        return "Charging"

    def _set_status(self, c: Connector, status: str, now: dt.datetime) -> None:
        if status == c.status:
            return
        c.status = status
        self._put(Outgoing("status", now, c.number, status=status,
                           session=c.session.number if c.session else 0))
        if c.session is not None and status in ("Charging", "SuspendedEV", "SuspendedEVSE"):
            self._put(Outgoing("tx_update", now, c.number, status=status, session=c.session.number,
                               id_token=c.session.id_token, sample=self._sample(c), reason="ChargingStateChanged",
                               seq_no=c.session.next_seq()))

    def _sample(self, c: Connector) -> Sample:
        power_kw, soc_pct, v_pu = self._samples
        if power_kw is None:
            return Sample(c.energy_wh, 0.0, 0.0, self.supply.v, 0.0)
        voltage_v = self.supply.v * float(v_pu[c.bus])
        power_w = float(power_kw[c.slot]) * 1000.0
        return Sample(c.energy_wh, power_w, power_w / (voltage_v * self.supply.phases), voltage_v,
                      float(soc_pct[c.slot]))

    def _put(self, message: Outgoing) -> None:
        offline = self.comms_lost or not self.online
        if offline and message.kind not in TX_KINDS:
            return  # status and heartbeats are not queued: the station reports its state on reconnect
        if offline:
            message = replace(message, offline=True)
        if len(self.outbox) >= MAX_OUTBOX:
            self.outbox.popleft()
        self.outbox.append(message)
        self._queued += 1

    def take_new(self) -> int:
        """How many messages were queued since the last call (the client is woken only for them)."""
        with self.lock:
            new, self._queued = self._queued, 0
            return new

    def current_status(self) -> list[Outgoing]:
        """Every connector's status now: sent after (re)connecting."""
        with self.lock:
            now = self.now()
            return [Outgoing("status", now, c.number, status=c.status, session=c.session.number if c.session else 0)
                    for c in self.connectors]

    def trigger(self, requested: str, connector: int | None) -> bool:
        """TriggerMessage: queue what the CSMS asks for; False for what a station does not send."""
        with self.lock:
            now = self.now()
            chosen = [c for c in self.connectors if connector in (None, 0, c.number)]
            if requested == "Heartbeat":
                self._put(Outgoing("heartbeat", now))
            elif requested == "StatusNotification":
                for c in chosen:
                    self._put(Outgoing("status", now, c.number, status=c.status,
                                       session=c.session.number if c.session else 0))
            elif requested in ("MeterValues", "TransactionEvent"):
                for c in chosen:
                    if c.session is not None:
                        self._tx(c, now, "Trigger")
            elif requested == "BootNotification":
                self._put(Outgoing("boot", now))
            else:
                return False
            return True

    def configure(self, key: str, seconds: float) -> None:
        with self.lock:
            if key == "HeartbeatInterval":
                self.heartbeat_s = seconds
            else:
                self.sample_s = seconds

    # -- smart charging --------------------------------------------------------------------
    def _composite_kw(self) -> tuple[np.ndarray, float | None]:
        """Each connector's transaction-level limit and the station maximum, now (kW). Cached for
        the step: it changes only with time, profiles and sessions."""
        key = (self.t_s, self._profiles_rev, tuple(c.session.number if c.session else 0 for c in self.connectors))
        if key != self._composite_key:
            if not self.profiles and not any(c.held for c in self.connectors):
                self._composite = (np.array([c.rated_kw for c in self.connectors]), None)
            else:
                now = self.now()
                self._composite = (np.array([self._tx_limit_kw(c, now) for c in self.connectors]),
                                   station_limit_kw(self.profiles, now, self.supply))
            self._composite_key = key
        return self._composite

    def _ocpp_limits_kw(self) -> np.ndarray:
        """Each connector's composite limit before the station maximum is shared."""
        limits, station_kw = self._composite_kw()
        return limits if station_kw is None else np.minimum(limits, station_kw)

    def _set_profiles(self, profiles: list[Profile]) -> None:
        self.profiles = profiles
        self._profiles_rev += 1

    def _tx_limit_kw(self, c: Connector, now: dt.datetime) -> float:
        if c.held:
            return 0.0
        session = c.session
        limit = connector_limit_kw(self.profiles, c.number, now, session.start if session else None,
                                   self.transaction_id(session), self.supply)
        return c.rated_kw if limit is None else min(limit, c.rated_kw)

    def transaction_id(self, session: Session | None) -> str | None:
        return None if session is None else self.transaction_id_of(session.number)

    def transaction_id_of(self, number: int) -> str:
        """The station's id of its ``number``-th transaction (2.0.1 ids are the station's)."""
        return f"{self.station_id}-{number}"

    def limits_kw(self, wanted_kw: np.ndarray) -> np.ndarray:
        """What each connector may draw now: its composite limit, the station maximum shared by
        what each EV wants (``wanted_kw`` by twin slot)."""
        with self.lock:
            limits, station_kw = self._composite_kw()
            if station_kw is None:
                return limits
            wants = np.minimum(limits, [wanted_kw[c.slot] for c in self.connectors])
            return np.minimum(limits, share_kw(station_kw, wants))

    def set_profile(self, raw: dict, connector: int) -> str:
        """Accepted or Rejected (the reason goes to the event log)."""
        with self.lock:
            if not 0 <= connector <= len(self.connectors):
                return self._reject(f"no connector {connector}")
            try:
                profile = parse_profile(raw, connector, self.now())
            except (ProfileError, KeyError, TypeError, ValueError) as exc:
                return self._reject(str(exc))
            if profile.purpose == "tx":
                c = self.connectors[connector - 1]
                if c.session is None:
                    return self._reject(f"TxProfile on connector {connector} without a transaction")
                # it applies to the running transaction (1.6 names it by the CSMS's id, 2.0.1 by ours)
                profile = replace(profile, transaction_id=self.transaction_id(c.session))
            # a profile replaces one with the same id, or the same purpose, stack level and connector
            self._set_profiles([p for p in self.profiles if p.id != profile.id and not (
                p.purpose == profile.purpose and p.stack_level == profile.stack_level
                and p.connector == profile.connector)] + [profile])
            first = profile.periods[0]
            self.profile_log.append(("charging_profile", self.supply.to_kw(first.limit, profile.unit, first.phases),
                                     f"set {profile.purpose} id {profile.id} level {profile.stack_level} on "
                                     f"connector {connector}: {profile.kind}, {len(profile.periods)} periods, "
                                     f"first {first.limit:g} {profile.unit}"))
            return "Accepted"

    def _reject(self, reason: str) -> str:
        self.profile_log.append(("charging_profile_rejected", math.nan, reason))
        return "Rejected"

    def clear_profiles(self, profile_id: int | None, connector: int | None, purpose: str | None,
                       stack_level: int | None) -> bool:
        wanted_purpose = PURPOSES.get(purpose) if purpose else None
        with self.lock:
            keep = [p for p in self.profiles if not (
                (profile_id is None or p.id == profile_id) and (connector is None or p.connector == connector)
                and (wanted_purpose is None or p.purpose == wanted_purpose)
                and (stack_level is None or p.stack_level == stack_level))]
            cleared = len(self.profiles) - len(keep)
            self._set_profiles(keep)
            if cleared:
                self.profile_log.append(("charging_profile_cleared", float(cleared),
                                         f"cleared {cleared} profiles (id {profile_id}, connector {connector}, "
                                         f"purpose {purpose}, level {stack_level})"))
            return cleared > 0

    def composite(self, connector: int, duration_s: float, unit: str) -> tuple[dt.datetime, list[tuple[float, float]]]:
        """The schedule the station will apply from now: (start, [(start_s, limit in ``unit``)]).
        Connector 0 answers the station maximum (the sum of the connectors' ratings without one)."""
        with self.lock:
            now = self.now()
            if connector == 0:
                total_kw = sum(c.rated_kw for c in self.connectors)

                def limit_at(t: dt.datetime) -> float:
                    station_kw = station_limit_kw(self.profiles, t, self.supply)
                    return total_kw if station_kw is None else min(total_kw, station_kw)
            else:
                c = self.connectors[connector - 1]

                def limit_at(t: dt.datetime) -> float:
                    station_kw = station_limit_kw(self.profiles, t, self.supply)
                    limit = self._tx_limit_kw(c, t)
                    return limit if station_kw is None else min(limit, station_kw)
            tx_start = None if connector == 0 or self.connectors[connector - 1].session is None \
                else self.connectors[connector - 1].session.start
            steps = composite_periods(limit_at, self.profiles, now, duration_s, tx_start)
            return now, [(start_s, round(self.supply.from_kw(kw, unit), 1)) for start_s, kw in steps]

"""The site's chargers as OCPP charging stations: a run-loop sink and setpoint source.

Like the Modbus bridge, this adapter translates and does nothing else: each step's snapshot
and events become station messages (``StationModel.step``), and each station's composite
charging limit becomes ``Command(connector, "p_limit_kw", kW, source="ocpp <station>")``
whenever it changes, so the charger's latency and ramp apply in the twin. Profile changes
are logged as twin events (``charging_profile``). The websockets live in ``OcppClients``.

A step is handled once its events are known: the run loop hands the sinks the snapshot,
then the step's events, then asks the setpoint sources for the next commands; the final
step is handled by ``close``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hil.ocpp.client import OcppClients
from hil.ocpp.schedule import Supply
from hil.ocpp.station import Connector, StationModel
from twin.config.errors import ScenarioError
from twin.model.commands import Command
from twin.model.core import Snapshot, Twin
from twin.model.events import Event
from twin.results.report import write_report
from twin.results.verdicts import Verdict, verdicts_as_dicts

AUDIT_FILE = "ocpp_audit.jsonl"
SUMMARY_FILE = "ocpp_summary.json"
LIMIT_STEP_KW = 0.05  # a composite limit that moved less than this is not re-commanded


@dataclass(frozen=True)
class OcppOptions:
    """How ``satwin serve`` runs the stations (``--ocpp-csms``, ``--ocpp-version`` ...)."""

    url: str
    version: str = "2.0.1"
    sample_s: float = 60.0  # MeterValues interval, simulated seconds
    response_timeout_s: float = 30.0
    backoff_s: tuple[float, float] = (0.5, 30.0)
    boot_wait_s: float = 10.0  # the clock starts when every station has booted, or after this
    passwords: dict[str, str] | None = None
    ca_file: Path | None = None


def build_stations(twin: Twin, sample_s: float) -> list[StationModel]:
    """One station per charger group reachable over OCPP, or per ``station_connectors`` of it."""
    site = twin.site
    bus_index = {name: i for i, name in enumerate(twin.grid.bus_names)}
    stations: list[StationModel] = []
    slot = 0
    for group in site.chargers:
        slots = list(range(slot, slot + group.count))
        slot += group.count
        if group.protocol == "modbus":
            continue
        size = group.station_connectors or group.count
        chunks = [slots[i:i + size] for i in range(0, len(slots), size)]
        for k, chunk in enumerate(chunks):
            station_id = group.name if len(chunks) == 1 else f"{group.name}_s{k + 1}"
            connectors = [Connector(n + 1, s, site.connector_names[s], group.p_max_kw, bus_index[group.bus])
                          for n, s in enumerate(chunk)]
            stations.append(StationModel(station_id, group.vendor, group.model, f"{site.name}-{station_id}",
                                         connectors, Supply(group.supply_v, group.supply_phases),
                                         twin.scenario.start, sample_s))
    return stations


def station_ids(twin: Twin) -> list[str]:
    return [s.station_id for s in build_stations(twin, 60.0)]


class OcppStations:
    def __init__(self, twin: Twin, options: OcppOptions, out_dir: Path | None = None) -> None:
        self.twin = twin
        self.options = options
        self.stations = build_stations(twin, options.sample_s)
        if not self.stations:
            raise ScenarioError(None, "--ocpp-csms", f"site '{twin.site.name}' has no charger group with "
                                "protocol ocpp or both")
        self.clients = OcppClients(self.stations, options.url, options.version, options.response_timeout_s,
                                   options.backoff_s, out_dir / AUDIT_FILE if out_dir else None,
                                   options.passwords, options.ca_file)
        self._commanded_kw = {c.slot: c.rated_kw for s in self.stations for c in s.connectors}
        self._pending: tuple[Snapshot, list[Event]] | None = None
        self._names = {s.station_id: {c.name for c in s.connectors} for s in self.stations}

    def start(self) -> bool:
        """Connect every station; True when all booted within ``boot_wait_s``."""
        self.clients.start()
        return self.clients.wait_online(self.options.boot_wait_s)

    # -- sink --------------------------------------------------------------------------------
    def on_snapshot(self, snap: Snapshot) -> None:
        self._handle()
        self._pending = (snap, [])

    def on_events(self, events: list[Event]) -> None:
        if self._pending is not None:
            self._pending[1].extend(events)

    def _handle(self) -> None:
        if self._pending is None:
            return
        snap, events = self._pending
        self._pending = None
        plugs = [(int(e.device[len("connector"):]), e.vehicle_id) for e in events if e.kind == "plug"]
        departures = [int(e.device[len("connector"):]) for e in events if e.kind == "departure"
                      and e.device.startswith("connector")]
        chargers = self.twin.chargers
        devices = snap.measured.devices
        names = self.twin.connector_names
        # what the meter reports: the sensor model's value where a connector has one
        power_kw = np.array([devices.get(f"{n}.p_kw", p) for n, p in zip(names, snap.charger_p_kw)])
        soc_pct = np.array([devices.get(f"{n}.ev_soc_pct", s) for n, s in zip(names, snap.charger_ev_soc_pct)])
        wanted_kw = chargers.accept_kw()
        for station in self.stations:
            lost = bool(self._names[station.station_id] & snap.comms_lost) or station.station_id in snap.comms_lost
            station.step(snap.t_s, snap.dt_s, power_kw, soc_pct, snap.v_pu, chargers.faulted, wanted_kw,
                         plugs, departures, lost)
        if sum(station.take_new() for station in self.stations):
            self.clients.wake()

    # -- setpoint source ---------------------------------------------------------------------
    def __call__(self, snap: Snapshot | None) -> list[Command] | None:
        self._handle()
        wanted_kw = self.twin.chargers.accept_kw()
        commands: list[Command] = []
        for station in self.stations:
            with station.lock:
                logged, station.profile_log = station.profile_log, []
            for kind, value, detail in logged:
                self.twin.log(kind, station.station_id, -1, value, detail)
            for c, limit_kw in zip(station.connectors, station.limits_kw(wanted_kw)):
                if abs(limit_kw - self._commanded_kw[c.slot]) >= LIMIT_STEP_KW or (limit_kw == 0) != (
                        self._commanded_kw[c.slot] == 0):
                    self._commanded_kw[c.slot] = float(limit_kw)
                    commands.append(Command(c.name, "p_limit_kw", float(limit_kw), f"ocpp {station.station_id}",
                                            snap.t_s if snap is not None else None))
        return commands or None

    def close(self, drain_s: float = 5.0) -> None:
        """Handle the last step, let the stations send what they hold, disconnect."""
        self._handle()
        self.clients.drain(drain_s)
        self.clients.stop()

    # -- results ----------------------------------------------------------------------------
    def summary(self) -> dict[str, dict]:
        out = {}
        for station in self.stations:
            link = self.clients.links[station.station_id]
            trips = np.asarray(link.round_trips_s) * 1e3
            out[station.station_id] = {
                "state": link.state, "connects": link.connects, "boots": link.boots, "sent": link.sent,
                "errors": link.errors, "last_error": link.last_error, "queued": len(station.outbox),
                "transactions": station.sessions_started,
                "round_trip_p50_ms": float(np.percentile(trips, 50)) if trips.size else math.nan,
                "round_trip_p99_ms": float(np.percentile(trips, 99)) if trips.size else math.nan}
        return out

    def verdicts(self) -> list[Verdict]:
        """The CSMS's health: every station booted and delivered its messages."""
        verdicts = []
        for station_id, s in self.summary().items():
            ok = s["boots"] > 0 and s["state"] in ("online", "offline (comms_loss)") and s["queued"] == 0
            reason = "" if ok else f" ({s['state']}; {s['last_error'] or 'no error'}; {s['queued']} queued)"
            verdicts.append(Verdict(f"ocpp station {station_id} online and delivered{reason}",
                                    float(s["sent"]), ok))
        return verdicts


def chain(*sources: Callable[[Snapshot | None], list[Command] | None]):
    """Several setpoint sources as one (Modbus writes and OCPP profiles side by side)."""

    def decide(snap: Snapshot | None) -> list[Command] | None:
        commands = [c for source in sources for c in (source(snap) or [])]
        return commands or None

    return decide


def finish_ocpp(stations: OcppStations, out_dir: Path, kpis: dict, verdicts: list[Verdict]) -> list[Verdict]:
    """Add the stations' health to the run's verdicts and report; write ``ocpp_summary.json``."""
    verdicts = list(verdicts) + stations.verdicts()
    out_dir = Path(out_dir)
    summary = {"url": stations.options.url, "version": stations.options.version,
               "sample_s": stations.options.sample_s, "stations": stations.summary()}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))
    (out_dir / "verdicts.json").write_text(json.dumps(verdicts_as_dicts(verdicts), indent=2))
    if kpis.get("steps"):
        write_report(out_dir, kpis, verdicts)
    return verdicts

"""``satwin gui --attach HOST:PORT``: watch a running ``satwin serve`` over Modbus TCP.

A poller thread (never the GUI thread) reads the plain maps of the site, meter, battery,
PV and charger units with ``hil.clients.reference_ems.SiteClient`` every ``POLL_WALL_S`` and turns
each new simulated step it sees into one row of the live view's channels. Rows go through
a bounded queue, like the live worker's batches; the window drains it on its redraw timer.

Only what the register map publishes can be shown: bus voltages, transformer loading,
queue lengths and the event log are not on Modbus (their panels say so). At high serve
speeds the poller samples: it sees one step per poll, not every step.

A thread, not a process: polling is socket I/O that releases the GIL, a few requests per
200 ms, so it does not compete with redraws the way a stepping twin does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gui.data.channels import SCALAR_FIELDS, TOTAL_FIELDS, Channels, SiteNames

POLL_WALL_S = 0.2
QUEUE_ROWS = 4096  # the bound between poller and window; a stalled window makes the poller drop rows
CONNECT_ATTEMPTS = 3  # per (re)connection try: SiteClient waits 0.25 s between attempts
RECONNECT_WALL_S = 1.0  # between reconnection tries after a lost connection
MAX_RECONNECTS = 30  # then the poller gives up (about half a minute to a minute)
READ_TIMEOUT_S = 1.0
UNAVAILABLE = "not available over Modbus"
NO_ELEMENTS = SiteNames((), (), ())  # no per-bus, per-transformer or per-class channel over Modbus


class AttachError(ValueError):
    """A HOST:PORT the user typed that cannot be used."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:5020`` for IPv6) -> (host, port); AttachError with a one-line reason."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text:
        raise AttachError(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:5020)")
    try:
        port = int(port_text)
    except ValueError:
        raise AttachError(f"'{port_text}' in '{text}' is not a port number") from None
    if not 1 <= port <= 65535:
        raise AttachError(f"port {port} in '{text}' is outside 1..65535")
    return host, port


def connect(host: str, port: int, attempts: int = CONNECT_ATTEMPTS):
    """A connected ``SiteClient``; ConnectionError when nothing answers.

    pymodbus logs each refused attempt to stderr; the GUI reports connection state itself
    (status bar, one-line CLI error), so its log is kept to critical messages.
    """
    from hil.clients.reference_ems import SiteClient

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    return SiteClient(host, port, timeout_s=READ_TIMEOUT_S, attempts=attempts)


@dataclass
class Sample:
    """One consistent read of the site: sim time, local hour, and the row of channels."""

    t_s: float
    hour_local: float
    row: np.ndarray


class SiteReader:
    """Discovers the devices once, then reads one row of channels per call."""

    def __init__(self, client) -> None:
        self.client = client
        self.devices = client.discover()
        missing = {"site", "meter"} - set(self.devices)
        if missing:
            raise ConnectionError(f"the server has no {' and no '.join(sorted(missing))} unit: not a satwin serve?")
        self.site, self.meter = self.devices["site"], self.devices["meter"]
        self.bess = self.devices.get("bess")
        self.pv = [d for name, d in self.devices.items() if name.startswith("pv")]
        self.chargers = [d for name, d in self.devices.items() if name.startswith("charger")]
        self.channels = Channels(NO_ELEMENTS)

    def read(self) -> Sample:
        """Reads site first and last; a step between them (sim time moved) is read again, twice at most."""
        for _ in range(3):
            site = self.client.read(self.site)
            meter = self.client.read(self.meter)
            bess = self.client.read(self.bess) if self.bess else None
            pv = [self.client.read(d) for d in self.pv]
            chargers = [self.client.read(d) for d in self.chargers]
            if self.client.read(self.site)["sim_time_s"] == site["sim_time_s"]:
                break
        values = {
            "grid_p_kw": meter["p_kw"], "contract_limit_kw": site["contract_limit_kw"],
            "bess_p_kw": bess["p_kw"] if bess else np.nan, "bess_p_set_kw": bess["p_set_kw"] if bess else np.nan,
            "bess_soc_pct": bess["soc_pct"] if bess else np.nan, "ev_p_kw": site["ev_p_kw"],
            "ev_cap_kw": site["ev_cap_kw"], "load_p_kw": np.nan,  # the site load is not published
            "pv_available_kw": sum(a["p_available_kw"] for a in pv) if pv else np.nan,
            "pv_p_kw": sum(a["p_kw"] for a in pv) if pv else np.nan,
            "charger_connected": sum(c["connected"] for c in chargers) if chargers else np.nan,
        }
        row = np.array([values[name] for name in (*SCALAR_FIELDS, *TOTAL_FIELDS)], dtype=float)
        return Sample(site["sim_time_s"], site["hour_local"], row)


class Poller:
    """The polling thread: connect, discover, read every ``poll_s``, reconnect with a bound.

    The window reads ``status`` (a one-line text) and drains ``rows``; ``stop()`` ends the
    thread within about one read timeout.
    """

    def __init__(self, host: str, port: int, poll_s: float = POLL_WALL_S, max_reconnects: int = MAX_RECONNECTS,
                 reconnect_s: float = RECONNECT_WALL_S, connect: Callable = connect) -> None:
        self.host, self.port, self.poll_s = host, port, poll_s
        self.max_reconnects, self.reconnect_s, self._connect = max_reconnects, reconnect_s, connect
        self.rows: queue.Queue[Sample] = queue.Queue(maxsize=QUEUE_ROWS)
        self.status = f"connecting to {host}:{port}…"
        self.connected = False
        self.gave_up = False
        self.polls = 0  # successful reads
        self.dropped = 0  # rows the window did not take in time
        self.devices: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="satwin-attach", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            client = None
            try:
                client = self._connect(self.host, self.port)
                reader = SiteReader(client)
                self.devices = sorted(reader.devices)
                self.connected, failures = True, 0
                self.status = f"attached to {self.address} · {len(self.devices)} devices"
                self._poll(reader)
            except Exception as exc:  # noqa: BLE001 — pymodbus and socket errors vary; all mean "lost"
                self.connected = False
                failures += 1
                if failures > self.max_reconnects:
                    self.gave_up = True
                    self.status = f"gave up on {self.address} after {self.max_reconnects} reconnection tries: {exc}"
                    return
                self.status = (f"connection to {self.address} lost ({_short(exc)}); "
                               f"retrying {failures}/{self.max_reconnects}")
                self._stop.wait(self.reconnect_s)
            finally:
                if client is not None:
                    client.close()
        self.connected = False
        self.status = f"stopped watching {self.address}"

    def _poll(self, reader: SiteReader) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            sample = reader.read()  # raises when the connection goes: the caller reconnects
            self.polls += 1
            try:
                self.rows.put_nowait(sample)
            except queue.Full:
                self.dropped += 1
            next_at = max(next_at + self.poll_s, time.monotonic())
            self._stop.wait(next_at - time.monotonic())


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:120]

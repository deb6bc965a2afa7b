"""``satwin csms`` and the ``--ocpp-*`` options of ``satwin serve`` (registered by ``hil.cli``)."""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated, Optional

import typer

from hil.ocpp.options import OcppOptions
from twin.config.errors import ScenarioError
from twin.config.units import parse_duration_s

VERSIONS = ("1.6", "2.0.1")


def ocpp_options(url: str | None, version: str, meter_interval: str, password_file: Path | None,
                 ca_file: Path | None) -> OcppOptions | None:
    """The serve options, checked: a mistake raises ``ScenarioError`` naming the option."""
    if url is None:
        return None
    if not url.startswith(("ws://", "wss://")):
        raise ScenarioError(None, "--ocpp-csms", f"'{url}' is not a ws:// or wss:// URL")
    if version not in VERSIONS:
        raise ScenarioError(None, "--ocpp-version", f"choose from {', '.join(VERSIONS)}")
    try:
        sample_s = parse_duration_s(meter_interval)
    except ValueError as exc:
        raise ScenarioError(None, "--ocpp-meter-interval", str(exc)) from None
    if sample_s <= 0:
        raise ScenarioError(None, "--ocpp-meter-interval", "must be positive")
    passwords = None
    if password_file is not None:
        try:
            passwords = {str(k): str(v) for k, v in tomllib.loads(password_file.read_text()).items()}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(password_file, "--ocpp-password-file", f"cannot read: {exc}") from None
    if ca_file is not None and not ca_file.exists():
        raise ScenarioError(None, "--ocpp-ca-file", f"{ca_file} not found")
    return OcppOptions(url, version, sample_s, passwords=passwords, ca_file=ca_file)


def csms_command(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 9000,
    ev_cap_kw: Annotated[Optional[float], typer.Option(help="Keep all stations' EV charging under this "
                                                             "(station maximum profiles)")] = None,
    tx_default_kw: Annotated[Optional[float], typer.Option(help="TxDefaultProfile for every connector")] = None,
    reallocate: Annotated[float, typer.Option(help="Wall seconds between re-splits of the EV cap")] = 2.0,
) -> None:
    """The reference CSMS: accepts OCPP 1.6J and 2.0.1 stations and governs them with charging profiles."""
    from hil.ocpp.csms import Policy, ReferenceCsms

    for name, value in (("--ev-cap-kw", ev_cap_kw), ("--tx-default-kw", tx_default_kw)):
        if value is not None and value < 0:
            print(f"error: {name}: must not be negative", file=sys.stderr)
            raise typer.Exit(2)
    csms = ReferenceCsms(Policy(ev_cap_kw, tx_default_kw, reallocate), host, port)
    try:
        port = csms.start()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"reference CSMS on ws://{host}:{port}/<station id> (ocpp1.6, ocpp2.0.1)"
          + (f"; EV cap {ev_cap_kw:g} kW" if ev_cap_kw is not None else "")
          + (f"; TxDefault {tx_default_kw:g} kW" if tx_default_kw is not None else ""), flush=True)
    seen: set[str] = set()
    try:
        while True:
            time.sleep(0.5)
            with csms.state.lock:
                booted = dict(csms.state.boots)
                transactions = len(csms.state.transactions)
            for station in sorted(set(booted) - seen):
                print(f"station {station} booted (OCPP {booted[station]['version']}); "
                      f"{transactions} transactions so far", flush=True)
            seen |= set(booted)
    except KeyboardInterrupt:
        pass
    finally:
        csms.stop()

"""``satwin csms`` and the ``--ocpp-*`` options of ``satwin serve`` (registered by ``hil.cli``)."""

from __future__ import annotations

import ssl
import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated, Optional

import typer

from hil.ocpp.options import OcppOptions
from hil.ocpp.security import CsmsSecurity
from twin.config.addresses import allowed_addresses
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
    passwords = read_passwords(password_file, "--ocpp-password-file")
    if ca_file is not None and not ca_file.is_file():
        raise ScenarioError(None, "--ocpp-ca-file", f"{ca_file} not found")
    if ca_file is not None and not url.startswith("wss://"):
        raise ScenarioError(None, "--ocpp-ca-file", f"is for a wss:// CSMS; '{url}' is not encrypted")
    return OcppOptions(url, version, sample_s, passwords=passwords, ca_file=ca_file)


def read_passwords(path: Path | None, option: str) -> dict[str, str] | None:
    """A password file: TOML, one line per station, ``car_dc = "secret"`` (the user name is the station id)."""
    if path is None:
        return None
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, option, f"cannot read: {exc}") from None
    bad = next((k for k, v in table.items() if not isinstance(v, str) or not v), None)
    if bad is not None:
        raise ScenarioError(path, option, f"{bad}: the password must be a non-empty string")
    return dict(table)


def csms_security(tls_cert: Path | None, tls_key: Path | None, password_file: Path | None,
                  allow: list[str] | None) -> CsmsSecurity:
    """``satwin csms``'s security options, checked (a usable certificate, a readable password file)."""
    if (tls_cert is None) != (tls_key is None):
        raise ScenarioError(None, "--tls-key" if tls_key is None else "--tls-cert",
                            "give both --tls-cert and --tls-key")
    security = CsmsSecurity(tls_cert, tls_key, read_passwords(password_file, "--password-file"),
                            allowed_addresses(allow))
    try:
        security.ssl_context()
    except (ssl.SSLError, OSError) as exc:
        raise ScenarioError(None, "--tls-cert/--tls-key", f"cannot use them ({exc})") from None
    return security


def csms_command(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 9000,
    ev_cap_kw: Annotated[Optional[float], typer.Option(help="Keep all stations' EV charging under this "
                                                             "(station maximum profiles)")] = None,
    tx_default_kw: Annotated[Optional[float], typer.Option(help="TxDefaultProfile for every connector")] = None,
    reallocate: Annotated[float, typer.Option(help="Wall seconds between re-splits of the EV cap")] = 2.0,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serve wss:// (security profile 2) with this "
                                                          "certificate (PEM)")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="The private key of --tls-cert (PEM)")] = None,
    password_file: Annotated[Optional[Path], typer.Option(help="TOML: station id = password; stations must "
                                                               "send it as HTTP basic auth")] = None,
    allow: Annotated[Optional[list[str]], typer.Option(help="Client IP allowed to connect (repeatable)")] = None,
) -> None:
    """The reference CSMS: accepts OCPP 1.6J and 2.0.1 stations and governs them with charging profiles."""
    from hil.ocpp.csms import Policy, ReferenceCsms

    for name, value in (("--ev-cap-kw", ev_cap_kw), ("--tx-default-kw", tx_default_kw)):
        if value is not None and value < 0:
            print(f"error: {name}: must not be negative", file=sys.stderr)
            raise typer.Exit(2)
    try:
        security = csms_security(tls_cert, tls_key, password_file, allow)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    csms = ReferenceCsms(Policy(ev_cap_kw, tx_default_kw, reallocate), host, port, security)
    try:
        port = csms.start()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"reference CSMS on {security.scheme}://{host}:{port}/<station id> (ocpp1.6, ocpp2.0.1)"
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

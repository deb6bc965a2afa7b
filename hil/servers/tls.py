"""Modbus/TCP Security for ``satwin serve``: TLS with client certificates and a role per certificate.

Plain data and the standard ``ssl`` module only (no pymodbus), so the CLI checks the files
without starting a server. The server (``hil.servers.modbus_tcp``) hands the context to
pymodbus' TLS server; a client without a certificate signed by ``--tls-ca`` fails the
handshake and never reaches a request. Each connection then gets its role from its
certificate, and the datastore (``Bridge.write``) refuses writes of a read-only role with
exception 01, audited like any refused write.

A certificate's role: its common name (CN) in the ``--tls-roles`` file, else its
organisational unit (OU) if that is a role name, else read-only (least privilege: a
certificate nobody assigned a role cannot act).
"""

from __future__ import annotations

import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONTROL, READ_ONLY = "control", "read-only"
ROLES = (CONTROL, READ_ONLY)


@dataclass(frozen=True)
class ClientIdentity:
    """Who a TLS connection is, from its certificate: the audit log names it, the datastore obeys the role."""

    common_name: str
    role: str

    @property
    def may_write(self) -> bool:
        return self.role == CONTROL

    def label(self, peer: str) -> str:
        return f"{peer} cn={self.common_name} role={self.role}"


@dataclass(frozen=True)
class TlsOptions:
    """``--tls-cert/--tls-key/--tls-ca/--tls-roles``: the server's identity, who may connect, who may write."""

    cert: Path
    key: Path
    ca: Path
    roles: dict[str, str] = field(default_factory=dict)  # certificate CN -> role

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.2 or later, a client certificate signed by ``ca`` required (Modbus/TCP Security, MB-TLS)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(self.cert, self.key)
        context.load_verify_locations(cafile=self.ca)
        return context

    def identity(self, peercert: dict | None) -> ClientIdentity:
        """The role of a verified peer certificate (``SSLSocket.getpeercert()`` form)."""
        subject = {key: value for rdn in (peercert or {}).get("subject", ()) for key, value in rdn}
        common_name = subject.get("commonName", "")
        unit = subject.get("organizationalUnitName", "")
        role = self.roles.get(common_name) or (unit if unit in ROLES else READ_ONLY)
        return ClientIdentity(common_name, role)


def tls_options(cert: Path | None, key: Path | None, ca: Path | None, roles_file: Path | None) -> TlsOptions | None:
    """The serve options checked (files readable, a usable context); ``ValueError`` names the option."""
    given = {"--tls-cert": cert, "--tls-key": key, "--tls-ca": ca}
    if not any(given.values()):
        if roles_file is not None:
            raise ValueError("--tls-roles: needs --tls-cert, --tls-key and --tls-ca")
        return None
    missing = [name for name, path in given.items() if path is None]
    if missing:
        raise ValueError(f"{missing[0]}: TLS needs all of --tls-cert, --tls-key and --tls-ca")
    for name, path in given.items():
        if not path.is_file():
            raise ValueError(f"{name}: {path} not found")
    options = TlsOptions(cert, key, ca, _roles(roles_file) if roles_file is not None else {})
    try:
        options.server_context()
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"--tls-cert/--tls-key/--tls-ca: cannot use them ({exc})") from None
    return options


def _roles(path: Path) -> dict[str, str]:
    """``--tls-roles``: TOML, one line per certificate common name, e.g. ``"ems-1" = "control"``."""
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"--tls-roles: cannot read {path}: {exc}") from None
    for name, role in table.items():
        if role not in ROLES:
            raise ValueError(f"--tls-roles: {path}: {name}: '{role}' is not a role (choose {', '.join(ROLES)})")
    return dict(table)

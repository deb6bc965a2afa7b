"""Who may reach the reference CSMS: OCPP security profiles 1 and 2 and an address allow-list.

* profile 2 (TLS): ``wss://`` with the CSMS's certificate (``--tls-cert/--tls-key``); the
  stations check it against the CA they are given (``satwin serve --ocpp-ca-file``);
* profile 1/2 (HTTP basic auth): a station's user name is its id, its password from
  ``--password-file``; a station that sends none, a wrong one, or another station's, gets
  HTTP 401 (or its socket closed) before any OCPP message;
* ``--allow``: only these client addresses get past the HTTP upgrade (403 for the others).

The handshake checks run in websockets' ``process_request``; no OCPP is parsed before them.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import basic_auth

from hil.logs import RateLimitedLog

LOG = logging.getLogger("satwin.ocpp")
MAX_MESSAGE_BYTES = 256 * 1024  # an OCPP message larger than this closes the socket (1009); ours are < 64 KiB


@dataclass(frozen=True)
class CsmsSecurity:
    cert: Path | None = None
    key: Path | None = None
    passwords: dict[str, str] | None = None  # station id -> password
    allow: set[str] | None = None  # client IP addresses; None: any

    @property
    def scheme(self) -> str:
        return "wss" if self.cert is not None else "ws"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.cert is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # OCPP security profile 2 requires 1.2 or later
        context.load_cert_chain(self.cert, self.key)
        return context

    def process_request(self):
        """websockets' ``process_request``: the allow-list, then basic auth; None when neither is set."""
        if self.allow is None and self.passwords is None:
            return None
        auth = basic_auth("satwin csms", credentials=list(self.passwords.items())) if self.passwords else None
        refusals = RateLimitedLog(LOG)  # a flood of refused handshakes is one line per interval

        async def check(connection, request):
            peer = connection.remote_address
            if self.allow is not None and (peer is None or peer[0] not in self.allow):
                refusals.warning(f"refused an OCPP connection from {peer[0] if peer else '?'} (not in --allow)")
                return connection.respond(HTTPStatus.FORBIDDEN, "not an allowed client address\n")
            if auth is None:
                return None
            response = await auth(connection, request)
            if response is not None:
                refusals.warning(f"refused OCPP station {request.path}: no or wrong basic-auth password")
            return response

        return check

    def station_may_connect(self, station_id: str, username: str | None) -> bool:
        """With passwords, the authenticated user must be the station the URL names."""
        return self.passwords is None or username == station_id

"""What a Modbus server allows its clients; plain data, so the CLI can show the defaults without pymodbus."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    """``satwin serve --max-connections/--idle-timeout``: bounds on what clients can hold."""

    max_connections: int = 32  # a site has a handful of controllers and observers; each holds a descriptor
    idle_timeout_s: float = 60.0  # no complete request for this long closes the connection (ends slowloris too)


def client_addresses(allow: list[str]) -> set[str]:
    """``--allow`` values as the addresses a peer reports; a host name would refuse everyone, so it is a mistake."""
    found = set()
    for text in allow:
        try:
            found.add(str(ipaddress.ip_address(text)))
        except ValueError:
            raise ValueError(f"'{text}' is not an IP address (write e.g. 127.0.0.1; host names are not resolved)") \
                from None
    return found

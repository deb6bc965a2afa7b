"""What a Modbus server allows its clients; plain data, so the CLI can show the defaults without pymodbus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    """``satwin serve --max-connections/--idle-timeout``: bounds on what clients can hold."""

    max_connections: int = 32  # a site has a handful of controllers and observers; each holds a descriptor
    idle_timeout_s: float = 60.0  # no complete request for this long closes the connection (ends slowloris too)

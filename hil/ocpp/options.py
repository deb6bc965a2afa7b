"""How ``satwin serve`` runs the OCPP stations: plain data, so the command line can build it
without importing the stations (and the twin behind them) at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

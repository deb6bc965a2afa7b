"""Log lines an attacker cannot multiply: a repeated event is one line per interval (shared by
the Modbus servers and the OCPP CSMS, outside their layers)."""

from __future__ import annotations

import logging
import time

LOG_EVERY_S = 10.0  # a flood of refused connections is one log line per interval


class RateLimitedLog:
    """One warning per ``LOG_EVERY_S`` for a repeated event, with how often it happened meanwhile."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._last = -LOG_EVERY_S
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < LOG_EVERY_S:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
        self.log.warning(message + more, *args)
        self._last, self._suppressed = now, 0

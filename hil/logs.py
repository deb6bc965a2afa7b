"""Log lines an attacker cannot multiply: a repeated event is one line per interval (shared by
the Modbus servers and the OCPP side, outside their layers)."""

from __future__ import annotations

import logging
import time

LOG_EVERY_S = 10.0  # a flood of refused connections or frames is one log line per interval


class Interval:
    """Lets an event through once per ``LOG_EVERY_S`` and counts the ones it held back."""

    def __init__(self) -> None:
        self._last = -LOG_EVERY_S
        self._suppressed = 0

    def due(self) -> str | None:
        """None while held back; else "" or " (N more since the last report)"."""
        now = time.monotonic()
        if now - self._last < LOG_EVERY_S:
            self._suppressed += 1
            return None
        more = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
        self._last, self._suppressed = now, 0
        return more


class RateLimitedLog:
    """One warning per ``LOG_EVERY_S`` for a repeated event, with how often it happened meanwhile."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._interval = Interval()

    def warning(self, message: str, *args: object) -> None:
        more = self._interval.due()
        if more is not None:
            self.log.warning(message + more, *args)


class OnePerInterval(logging.Filter):
    """A logger filter: at most one record per ``LOG_EVERY_S`` (a library that logs per frame)."""

    def __init__(self) -> None:
        super().__init__()
        self._interval = Interval()

    def filter(self, record: logging.LogRecord) -> bool:
        more = self._interval.due()
        if more:
            record.msg = f"{record.msg}{more}"
        return more is not None

"""Parsing of human time spans used in files and on the command line ("1s", "15min", "24h", "365d")."""

from __future__ import annotations

import math
import re

_SECONDS_PER_UNIT = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
MAX_SPAN_S = 3650 * 86400.0  # ten years: longer spans are mistakes (and overflow calendar arithmetic)
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d)?\s*$")


def parse_duration_s(text: str | int | float) -> float:
    """Seconds in a span such as ``"1s"``, ``"15min"``, ``"24h"`` or ``"365d"``; a bare number is seconds."""
    shown = str(text)[:40]
    if isinstance(text, bool):  # a TOML true/false is an int to Python, never a span
        raise ValueError(f"'{shown}' is not a time span; write e.g. 1s, 15min, 24h or 365d")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _SPAN.match(str(text))
        if not match:
            raise ValueError(f"'{shown}' is not a time span; write e.g. 1s, 15min, 24h or 365d")
        seconds = float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ValueError(f"'{shown}' is not a finite time span")
    if seconds <= 0:
        raise ValueError(f"'{shown}' must be a positive time span")
    if seconds > MAX_SPAN_S:
        raise ValueError(f"'{shown}' is longer than {MAX_SPAN_S / 86400:.0f}d, the longest span satwin accepts")
    return seconds


def parse_offset_s(text: str | int | float) -> float:
    """Like ``parse_duration_s`` but 0 is allowed: a moment counted from the scenario start."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text == 0:
        return 0.0
    return parse_duration_s(text)

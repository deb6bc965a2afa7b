"""Bounded quantities of the file schemas: every number a site or scenario may hold has a range.

Why bounds beyond "positive": a value the schema lets through must also build a network
that solves and a run that ends. A zero reactance makes the admittance matrix singular, a
1e308 kVA transformer or a 1e-300 km cable overflow it, 1e9 vehicles a day or 1e7 pack
chargers make SimPy schedule for hours before the first step. The ranges are generous
(a gigawatt site, a hundred-kilometre feeder) so that no real service area meets them, and
``docs/input-ranges.md`` lists them, generated from these models.
"""

from __future__ import annotations

from typing import Annotated

import re

from pydantic import AfterValidator, Field

MAX_KW = 1_000_000.0  # 1 GW: above any service area, far below what overflows the power flow
MAX_KWH = 10_000_000.0
MAX_MINUTES = 7 * 24 * 60.0

PowerKw = Annotated[float, Field(gt=0, le=MAX_KW)]
PowerOrZeroKw = Annotated[float, Field(ge=0, le=MAX_KW)]
EnergyKwh = Annotated[float, Field(gt=0, le=MAX_KWH)]
VoltageKv = Annotated[float, Field(ge=0.1, le=500)]
LengthKm = Annotated[float, Field(ge=0.001, le=200)]  # 1 m .. 200 km
ResistanceOhmPerKm = Annotated[float, Field(ge=0, le=100)]
ReactanceOhmPerKm = Annotated[float, Field(ge=0.001, le=100)]  # never 0: a branch needs an impedance
CapacitanceNfPerKm = Annotated[float, Field(ge=0, le=10_000)]
CurrentKa = Annotated[float, Field(ge=0.001, le=100)]
ApparentPowerKva = Annotated[float, Field(ge=1, le=MAX_KW)]
RampKwPerS = Annotated[float, Field(gt=0, le=MAX_KW)]
LatencyS = Annotated[float, Field(ge=0, le=3600)]
Minutes = Annotated[float, Field(gt=0, le=MAX_MINUTES)]
Pct = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PriceCnyPerKwh = Annotated[float, Field(ge=0, le=100)]

# names become Modbus device names, recording columns (``DEVICE.POINT``) and folder names:
# no dots, slashes, spaces or control characters
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")


def _plain_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"'{value[:40]}' is not a name: use 1-64 letters, digits, _ or -, starting with a letter "
                         "or digit (no spaces, dots or slashes)")
    return value


Name = Annotated[str, AfterValidator(_plain_name)]

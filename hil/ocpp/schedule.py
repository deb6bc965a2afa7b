"""OCPP smart charging as arithmetic: charging profiles, the composite limit, the station share.

Pure functions of parsed profiles and (simulated calendar) times — no sockets, no ocpp
library — so what a station applies is unit-tested on its own. Both protocol versions
arrive here as the snake_case dicts the ocpp library hands to a handler; 1.6 and 2.0.1
differ only in a few key names (``parse_profile``).

Semantics as implemented (``docs/ocpp-guide.md`` quotes them):

* Per connector, a ``TxProfile`` of its running transaction wins over ``TxDefaultProfile``;
  a ``TxDefaultProfile`` for the connector wins over one for connector/EVSE 0 (= all).
  Within one purpose the highest ``stack_level`` whose schedule is active at that instant
  wins; when its schedule has ended, the next level down applies.
* ``ChargePointMaxProfile`` (1.6) / ``ChargingStationMaxProfile`` (2.0.1) limits the whole
  station; it is shared across the connectors by what each EV wants (``share_kw``).
* Kinds: ``Absolute`` (from ``start_schedule``), ``Recurring`` (``Daily``/``Weekly`` from
  ``start_schedule``), ``Relative`` (from the transaction's start).
* Limits in A become W with the station's supply: ``A × supply_v × phases`` (the period's
  ``number_phases`` when given). DC stations are best commanded in W.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np

Purpose = Literal["station_max", "tx_default", "tx"]
PURPOSES = {"ChargePointMaxProfile": "station_max", "ChargingStationMaxProfile": "station_max",
            "TxDefaultProfile": "tx_default", "TxProfile": "tx"}
RECURRENCE_S = {"Daily": 86400.0, "Weekly": 7 * 86400.0}


class ProfileError(ValueError):
    """A profile the station rejects (unknown purpose, no periods, A on a station without supply ...)."""


@dataclass(frozen=True, slots=True)
class Period:
    start_s: float  # from the start of the schedule
    limit: float  # in the schedule's unit
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    connector: int  # 0: the station (every connector)
    stack_level: int
    purpose: Purpose
    kind: Literal["Absolute", "Recurring", "Relative"]
    unit: Literal["A", "W"]
    periods: tuple[Period, ...]
    start: dt.datetime | None = None
    duration_s: float | None = None
    recurrency: str | None = None
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    transaction_id: str | None = None


def parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def ocpp_time(moment: dt.datetime) -> str:
    """An OCPP timestamp (UTC, milliseconds, ``Z``)."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_profile(raw: dict, connector: int, now: dt.datetime) -> Profile:
    """A profile from a SetChargingProfile payload (1.6 ``cs_charging_profiles`` or 2.0.1
    ``charging_profile``, snake_case). An Absolute profile without a start starts ``now``."""
    purpose = PURPOSES.get(raw.get("charging_profile_purpose", ""))
    if purpose is None:
        raise ProfileError(f"purpose {raw.get('charging_profile_purpose')!r} is not supported")
    if purpose == "station_max" and connector != 0:
        raise ProfileError("a station maximum profile must be set on connector/EVSE 0")
    if purpose == "tx" and connector == 0:
        raise ProfileError("a TxProfile needs a connector/EVSE")
    schedule = raw.get("charging_schedule")
    if isinstance(schedule, list):  # 2.0.1: a list of schedules; a station uses the first
        schedule = schedule[0] if schedule else None
    if not schedule or not schedule.get("charging_schedule_period"):
        raise ProfileError("the profile has no charging schedule periods")
    periods = tuple(sorted((Period(float(p["start_period"]), float(p["limit"]), p.get("number_phases"))
                            for p in schedule["charging_schedule_period"]), key=lambda p: p.start_s))
    if periods[0].start_s != 0:
        raise ProfileError("the first schedule period must start at 0")
    if any(p.limit < 0 for p in periods):
        raise ProfileError("a limit must not be negative")
    kind = raw.get("charging_profile_kind", "Absolute")
    start = parse_time(schedule.get("start_schedule"))
    if kind == "Absolute" and start is None:
        start = now
    if kind == "Recurring" and (start is None or raw.get("recurrency_kind") not in RECURRENCE_S):
        raise ProfileError("a Recurring profile needs start_schedule and recurrency_kind Daily or Weekly")
    unit = schedule.get("charging_rate_unit", "W")
    if unit not in ("A", "W"):
        raise ProfileError(f"charging rate unit {unit!r} is neither A nor W")
    tx = raw.get("transaction_id")
    return Profile(
        id=int(raw.get("charging_profile_id", raw.get("id", 0))), connector=connector,
        stack_level=int(raw.get("stack_level", 0)), purpose=purpose, kind=kind, unit=unit, periods=periods,
        start=start, duration_s=float(schedule["duration"]) if schedule.get("duration") is not None else None,
        recurrency=raw.get("recurrency_kind"), valid_from=parse_time(raw.get("valid_from")),
        valid_to=parse_time(raw.get("valid_to")), transaction_id=None if tx is None else str(tx))


def schedule_offset_s(profile: Profile, now: dt.datetime, tx_start: dt.datetime | None) -> float | None:
    """Seconds into the profile's schedule at ``now``; None when the profile is not in force."""
    if profile.valid_from is not None and now < profile.valid_from:
        return None
    if profile.valid_to is not None and now >= profile.valid_to:
        return None
    if profile.kind == "Relative":
        if tx_start is None:
            return None
        offset = (now - tx_start).total_seconds()
    else:
        offset = (now - profile.start).total_seconds()
        if profile.kind == "Recurring":
            if offset < 0:
                return None
            offset %= RECURRENCE_S[profile.recurrency]
    if offset < 0 or (profile.duration_s is not None and offset >= profile.duration_s):
        return None
    return offset


def period_at(profile: Profile, now: dt.datetime, tx_start: dt.datetime | None) -> Period | None:
    offset = schedule_offset_s(profile, now, tx_start)
    if offset is None:
        return None
    return [p for p in profile.periods if p.start_s <= offset][-1]


@dataclass(frozen=True, slots=True)
class Supply:
    """What A means for a station: ``A × v × phases`` watts."""

    v: float
    phases: int

    def to_kw(self, limit: float, unit: str, phases: int | None = None) -> float:
        return limit / 1000.0 if unit == "W" else limit * self.v * (phases or self.phases) / 1000.0

    def from_kw(self, p_kw: float, unit: str) -> float:
        return p_kw * 1000.0 if unit == "W" else p_kw * 1000.0 / (self.v * self.phases)


def winning_kw(profiles: list[Profile], now: dt.datetime, tx_start: dt.datetime | None,
               supply: Supply) -> float | None:
    """The limit of the highest stack level in force at ``now``, in kW; None when none is."""
    for profile in sorted(profiles, key=lambda p: -p.stack_level):
        period = period_at(profile, now, tx_start)
        if period is not None:
            return supply.to_kw(period.limit, profile.unit, period.phases)
    return None


def connector_limit_kw(profiles: list[Profile], connector: int, now: dt.datetime, tx_start: dt.datetime | None,
                       tx_id: str | None, supply: Supply) -> float | None:
    """The transaction-level limit of one connector (TxProfile > own TxDefault > TxDefault on 0)."""
    tx = [p for p in profiles if p.purpose == "tx" and p.connector == connector and tx_id is not None
          and p.transaction_id in (None, tx_id)]
    for candidates in (tx, [p for p in profiles if p.purpose == "tx_default" and p.connector == connector],
                       [p for p in profiles if p.purpose == "tx_default" and p.connector == 0]):
        limit = winning_kw(candidates, now, tx_start, supply)
        if limit is not None:
            return limit
    return None


def station_limit_kw(profiles: list[Profile], now: dt.datetime, supply: Supply) -> float | None:
    return winning_kw([p for p in profiles if p.purpose == "station_max"], now, None, supply)


def share_kw(station_kw: float, wanted_kw: np.ndarray) -> np.ndarray:
    """Split a station maximum across connectors by what each wants (water filling): a connector
    that wants less than an equal share gets what it wants, the rest is split among the others."""
    wanted = np.maximum(np.asarray(wanted_kw, dtype=float), 0.0)
    granted = np.zeros_like(wanted)
    left_kw = max(0.0, station_kw)
    open_ = list(np.argsort(wanted))
    while open_:
        equal = left_kw / len(open_)
        slot = open_[0]
        if wanted[slot] <= equal:
            granted[slot] = wanted[slot]
            left_kw -= wanted[slot]
            open_.pop(0)
        else:
            granted[open_] = equal
            break
    return granted


def breakpoints(profile: Profile, start: dt.datetime, end: dt.datetime,
                tx_start: dt.datetime | None) -> list[dt.datetime]:
    """Instants in [start, end) where the profile's limit may change."""
    times = [t for t in (profile.valid_from, profile.valid_to) if t is not None]
    if profile.kind == "Relative":
        anchors = [tx_start] if tx_start is not None else []
    elif profile.kind == "Absolute":
        anchors = [profile.start]
    else:
        every = dt.timedelta(seconds=RECURRENCE_S[profile.recurrency])
        first = profile.start + every * max(0, (start - profile.start) // every)
        anchors = []
        while first < end:
            anchors.append(first)
            first += every
    for anchor in anchors:
        times += [anchor + dt.timedelta(seconds=p.start_s) for p in profile.periods]
        if profile.duration_s is not None:
            times.append(anchor + dt.timedelta(seconds=profile.duration_s))
    return [t for t in times if start < t < end]


def composite_periods(limit_at, profiles: list[Profile], start: dt.datetime, duration_s: float,
                      tx_start: dt.datetime | None) -> list[tuple[float, float]]:
    """``(start_s, limit_kw)`` steps of ``limit_at(now) -> kW`` over the window, merged where equal."""
    end = start + dt.timedelta(seconds=duration_s)
    instants = sorted({start, *[t for p in profiles for t in breakpoints(p, start, end, tx_start)]})
    steps: list[tuple[float, float]] = []
    for instant in instants:
        limit = limit_at(instant)
        if not steps or steps[-1][1] != limit:
            steps.append(((instant - start).total_seconds(), limit))
    return steps

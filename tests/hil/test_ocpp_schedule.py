"""The smart-charging arithmetic of ``hil.ocpp.schedule``: no sockets, no station."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from hil.ocpp.schedule import (
    ProfileError,
    Supply,
    composite_periods,
    connector_limit_kw,
    parse_profile,
    share_kw,
    station_limit_kw,
)

T0 = dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.timezone.utc)
SUPPLY = Supply(230.0, 3)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def profile16(purpose="TxDefaultProfile", periods=((0, 20000),), unit="W", kind="Absolute", level=0, pid=1,
              start=T0, duration=None, recurrency=None, connector=0, valid_to=None):
    schedule = {"charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": s, "limit": v} for s, v in periods]}
    if start is not None:
        schedule["start_schedule"] = start.isoformat()
    if duration is not None:
        schedule["duration"] = duration
    raw = {"charging_profile_id": pid, "stack_level": level, "charging_profile_purpose": purpose,
           "charging_profile_kind": kind, "charging_schedule": schedule}
    if recurrency:
        raw["recurrency_kind"] = recurrency
    if valid_to is not None:
        raw["valid_to"] = valid_to.isoformat()
    return parse_profile(raw, connector, T0)


def limit(profiles, seconds, connector=1, tx_start=None, tx_id="tx"):
    return connector_limit_kw(profiles, connector, at(seconds), tx_start, tx_id, SUPPLY)


def test_absolute_periods_step_in_time():
    p = profile16(periods=((0, 20000), (600, 50000)))
    assert limit([p], 0) == 20.0
    assert limit([p], 599) == 20.0
    assert limit([p], 600) == 50.0
    assert limit([p], -1) is None  # before its start: not in force


def test_duration_and_valid_to_end_a_profile():
    p = profile16(duration=300)
    assert limit([p], 299) == 20.0 and limit([p], 300) is None
    q = profile16(valid_to=at(100))
    assert limit([q], 99) == 20.0 and limit([q], 100) is None


def test_higher_stack_level_wins_and_falls_through_when_it_ends():
    low = profile16(periods=((0, 40000),), level=0, pid=1)
    high = profile16(periods=((0, 10000),), level=5, pid=2, duration=600)
    assert limit([low, high], 10) == 10.0
    assert limit([low, high], 700) == 40.0


def test_tx_profile_beats_tx_default_and_connector_beats_zero():
    all_ = profile16(periods=((0, 30000),), connector=0, pid=1)
    own = profile16(periods=((0, 25000),), connector=1, pid=2)
    tx = profile16(purpose="TxProfile", periods=((0, 5000),), connector=1, pid=3, kind="Relative", start=None)
    tx = replace(tx, transaction_id="tx")
    assert limit([all_], 0) == 30.0
    assert limit([all_, own], 0) == 25.0
    assert limit([all_, own], 0, connector=2) == 30.0  # the other connector keeps the station-wide default
    assert limit([all_, own, tx], 0, tx_start=T0) == 5.0
    assert limit([all_, own, tx], 0, tx_start=T0, tx_id="another") == 25.0  # not this transaction's


def test_relative_profile_counts_from_the_transaction_start():
    p = profile16(kind="Relative", start=None, periods=((0, 10000), (1800, 0)))
    assert limit([p], 100) is None  # no transaction: a relative schedule has no start
    assert limit([p], 1000, tx_start=at(0)) == 10.0
    assert limit([p], 2000, tx_start=at(100)) == 0.0


def test_recurring_daily_repeats():
    p = profile16(kind="Recurring", recurrency="Daily", periods=((0, 0), (3600, 60000)), duration=7200)
    assert limit([p], 60) == 0.0
    assert limit([p], 86400 + 3700) == 60.0
    assert limit([p], 86400 + 7300) is None  # past the schedule's duration within the day


def test_amps_become_watts_with_the_supply_and_the_periods_phases():
    p = profile16(unit="A", periods=((0, 32),))
    assert limit([p], 0) == pytest.approx(32 * 230 * 3 / 1000)
    raw = {"charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
           "charging_profile_kind": "Absolute",
           "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [
               {"start_period": 0, "limit": 16, "number_phases": 1}]}}
    assert limit([parse_profile(raw, 0, T0)], 0) == pytest.approx(16 * 230 / 1000)


def test_201_payload_and_station_max():
    raw = {"id": 7, "stack_level": 1, "charging_profile_purpose": "ChargingStationMaxProfile",
           "charging_profile_kind": "Absolute",
           "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                  "charging_schedule_period": [{"start_period": 0, "limit": 50000}]}]}
    p = parse_profile(raw, 0, T0)  # no start_schedule: an Absolute profile starts when it is set
    assert p.id == 7 and p.purpose == "station_max"
    assert station_limit_kw([p], at(5), SUPPLY) == 50.0
    assert limit([p], 5) is None  # a station maximum is not a connector's transaction limit


@pytest.mark.parametrize("raw, connector, message", [
    ({"charging_profile_purpose": "Nope"}, 0, "not supported"),
    ({"charging_profile_purpose": "ChargePointMaxProfile", "charging_schedule": {}}, 2, "connector/EVSE 0"),
    ({"charging_profile_purpose": "TxProfile", "charging_schedule": {}}, 0, "needs a connector"),
    ({"charging_profile_purpose": "TxDefaultProfile", "charging_schedule": {"charging_schedule_period": []}},
     0, "no charging schedule periods"),
    ({"charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Recurring",
      "charging_schedule": {"charging_schedule_period": [{"start_period": 0, "limit": 1}]}}, 0, "Recurring"),
])
def test_profiles_a_station_rejects(raw, connector, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(raw, connector, T0)


def test_share_gives_small_wants_what_they_want_and_splits_the_rest():
    granted = share_kw(100.0, np.array([10.0, 80.0, 80.0, 0.0]))
    assert granted.tolist() == [10.0, 45.0, 45.0, 0.0]
    assert share_kw(100.0, np.array([20.0, 30.0])).tolist() == [20.0, 30.0]  # room to spare
    assert share_kw(0.0, np.array([50.0, 50.0])).tolist() == [0.0, 0.0]


def test_composite_periods_merge_and_follow_breakpoints():
    low = profile16(periods=((0, 40000),), pid=1)
    high = profile16(periods=((0, 10000), (300, 20000)), level=3, pid=2, duration=900)
    profiles = [low, high]
    steps = composite_periods(lambda t: connector_limit_kw(profiles, 1, t, None, None, SUPPLY), profiles,
                              at(100), 3600, None)
    assert steps == [(0.0, 10.0), (200.0, 20.0), (800.0, 40.0)]

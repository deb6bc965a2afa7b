"""Every sensor model, asserted by what a controller sees against the truth of the same step."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_twin
from twin.controllers.base import Measurements
from twin.sensors import SensorModel, Sensors


def _truth(t_s, grid_p_kw, soc=50.0):
    return Measurements(t_s=t_s, hour_local=0.0, grid_p_kw=grid_p_kw, grid_q_kvar=0.0, poc_v_pu=1.0, pv_p_kw=0.0,
                        pv_available_kw=0.0, bess_p_kw=0.0, bess_soc_pct=soc, ev_p_kw=0.0, ev_cap_kw=0.0,
                        tariff_cny_per_kwh=0.5)


def _series(model, values, dt=1.0, seed=1):
    sensors = Sensors((model,), seed)
    return [sensors.measure(_truth((k + 1) * dt, v)) for k, v in enumerate(values)]


def test_fixed_delay_shows_the_value_of_delay_seconds_ago():
    out = _series(SensorModel(point="grid_p_kw", delay_s="5s"), np.arange(20.0))
    assert [m.grid_p_kw for m in out][5:] == list(np.arange(15.0))
    assert out[0].grid_p_kw == 0.0  # before any old-enough sample: the oldest known


def test_jittered_delay_stays_within_its_bounds():
    out = _series(SensorModel(point="grid_p_kw", delay_s=2, jitter_s=3), np.arange(100.0))
    lag = np.arange(100.0)[10:] - np.array([m.grid_p_kw for m in out][10:])
    assert lag.min() >= 2 and lag.max() <= 5 and len(set(lag)) > 1


def test_noise_bias_and_quantisation():
    noisy = np.array([m.grid_p_kw for m in _series(SensorModel(point="grid_p_kw", noise_std=10, bias=50),
                                                      np.full(4000, 1000.0))])
    assert noisy.mean() == pytest.approx(1050, abs=1.0) and noisy.std() == pytest.approx(10, rel=0.05)
    stepped = [m.grid_p_kw for m in _series(SensorModel(point="grid_p_kw", quantum=100), [1234.0, 1260.0])]
    assert stepped == [1200.0, 1300.0]


def test_stuck_value_freezes_and_releases():
    model = SensorModel(point="bess_soc_pct", stuck_start_s=5, stuck_duration_s=5)
    sensors = Sensors((model,), 0)
    out = [sensors.measure(_truth(t, 0.0, soc=float(t))).bess_soc_pct for t in range(1, 15)]
    assert out[:4] == [1.0, 2.0, 3.0, 4.0]
    assert out[4:9] == [4.0] * 5  # held at the last value before the window
    assert out[9:] == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_dropout_holds_the_last_value_and_flags_it_stale():
    out = _series(SensorModel(point="grid_p_kw", dropout_start_s="3s", dropout_duration_s="3s"), np.arange(1.0, 9.0))
    assert [m.grid_p_kw for m in out] == [1, 2, 2, 2, 2, 6, 7, 8]
    assert [bool(m.stale) for m in out] == [False, False, True, True, True, False, False, False]


def test_a_meter_delay_reaches_the_controller_through_the_twin(holiday):
    delayed = holiday.model_copy(update={"sensors": (SensorModel(point="grid_p_kw", delay_s="30s"),)})
    _, snaps = run_twin(delayed.with_options(step_s=1.0, duration_s=600.0))
    truth = np.array([s.grid_p_kw for s in snaps])
    seen = np.array([s.measured.grid_p_kw for s in snaps])
    assert np.array_equal(seen[30:], truth[:-30])
    assert snaps[-1].measured.bess_soc_pct == snaps[-1].bess_soc_pct  # other points untouched

"""Every sensor model, asserted by what a controller sees against the truth of the same step."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import FREIGHT_SITE, HOLIDAY, run_twin
from twin.config.errors import ScenarioError
from twin.config.scenario import load_scenario
from twin.config.sensors import SensorModel
from twin.model.controllers.base import Measurements
from twin.model.sensors import Sensors


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


def _with_sensors(scenario, *models):
    return scenario.model_copy(update={"sensors": models})


def test_a_sensor_on_a_device_point_changes_that_point_only(holiday):
    noon = holiday.with_options(start=holiday.start.replace(hour=12), step_s=1.0, duration_s=60.0)
    sensed = _with_sensors(noon, SensorModel(point="pv_roof.p_kw", delay_s="10s", bias=-25.0),
                           SensorModel(point="car_dc_1.ev_soc_pct", quantum=10.0))
    twin, snaps = run_twin(sensed)
    assert twin.sensors.device_point_names == ["pv_roof.p_kw", "car_dc_1.ev_soc_pct"]
    roof = np.array([s.pv_p_kw[1] for s in snaps])
    seen = np.array([s.measured.devices["pv_roof.p_kw"] for s in snaps])
    assert np.ptp(roof) > 0
    assert np.array_equal(seen[10:], roof[:-10] - 25.0)
    soc = [s.measured.devices["car_dc_1.ev_soc_pct"] for s in snaps]
    assert soc == [round(s.charger_ev_soc_pct[0] / 10.0) * 10.0 for s in snaps]
    assert snaps[-1].measured.pv_p_kw == snaps[-1].pv_p_kw.sum()  # the site point has no sensor model
    _, plain = run_twin(noon)
    assert [s.pv_p_kw[1] for s in plain] == list(roof)  # a sensor never changes the truth
    assert plain[-1].measured.devices == {}


def test_device_point_dropout_and_comms_loss_hold_the_last_value_flagged_stale(holiday):
    from twin.config.faults import Fault

    noon = holiday.with_options(start=holiday.start.replace(hour=12), step_s=1.0, duration_s=40.0)
    sensed = _with_sensors(noon, SensorModel(point="pv_canopy.p_kw", dropout_start_s=10, dropout_duration_s=5),
                           SensorModel(point="pv_roof.p_available_kw"))
    _, snaps = run_twin(sensed, faults=[Fault(kind="comms_loss", device="pv_roof", start_s=20, duration_s=10)])
    at = {s.t_s: s for s in snaps}
    assert at[12].measured.devices["pv_canopy.p_kw"] == at[9].pv_p_kw[0] != at[12].pv_p_kw[0]
    assert at[12].measured.stale == ("pv_canopy.p_kw",)
    assert at[25].measured.devices["pv_roof.p_available_kw"] == at[20].pv_available_kw[1] != at[25].pv_available_kw[1]
    assert "pv_roof.p_available_kw" in at[25].measured.stale
    assert at[35].measured.devices["pv_roof.p_available_kw"] == at[35].pv_available_kw[1]
    assert at[35].measured.stale == ()


@pytest.mark.parametrize("point, words", [
    ("pv_moon.p_kw", "choose from: pv_canopy.p_kw, pv_canopy.p_available_kw, pv_roof.p_kw"),
    ("pv_canopy.ev_soc_pct", "choose from: pv_canopy.p_kw, pv_canopy.p_available_kw)"),
    ("bess.soc_pct", "name bess_p_kw or bess_soc_pct instead"),
    ("meter.p_kw", "name grid_p_kw or grid_q_kvar or poc_v_pu instead"),
    ("pv_canopy.voltage", "choose from: pv_canopy.p_kw, pv_canopy.p_available_kw)"),
    ("grid_p_kww", "unknown point 'grid_p_kww'"),
    ("p_kw", "unknown point 'p_kw'"),
    ("site.ev_p_kw", "name ev_p_kw or ev_cap_kw instead"),
    ("swap.full_packs", "choose from: swap.p_kw)"),
])
def test_a_sensor_on_a_point_the_site_lacks_names_file_and_field(tmp_path, point, words):
    path = _scenario_file(tmp_path, f'[[sensors]]\npoint = "{point}"\nbias = 1\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.file == str(path)
    assert caught.value.field == "sensors[0].point"
    assert words in caught.value.message


def test_two_sensor_models_for_one_point_are_a_mistake(tmp_path):
    path = _scenario_file(tmp_path, '[[sensors]]\npoint = "mcs_1.p_kw"\nbias = 1\n'
                                    '[[sensors]]\npoint = "mcs_1.p_kw"\nnoise_std = 1\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == "sensors[1].point" and "already has a sensor model" in caught.value.message
    load_scenario(_scenario_file(tmp_path, '[[sensors]]\npoint = "mcs_1.p_kw"\nbias = 1\n'
                                           '[[sensors]]\npoint = "swap.p_kw"\nbias = 1\n'))


def _scenario_file(tmp_path, extra: str):
    (tmp_path / "sites").mkdir(exist_ok=True)
    (tmp_path / "sites" / FREIGHT_SITE.name).write_text(FREIGHT_SITE.read_text())
    path = tmp_path / "s.toml"
    path.write_text(HOLIDAY.read_text() + "\n" + extra)
    return path

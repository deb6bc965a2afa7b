"""Transformer thermal protection: the IEC 60076-7 hot spot, and a trip only for a long enough overload."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import HOLIDAY
from twin.config.scenario import load_scenario
from twin.config.site import TransformerProtection
from twin.model.thermal import HOT_SPOT_GRADIENT_K, TOP_OIL_RISE_K, HotSpots, ThermalProtection
from twin.results.reader import read_events, read_timeseries


def test_rated_load_settles_at_the_standards_reference_hot_spot():
    spots = HotSpots(1, ambient_c=20.0)
    for _ in range(48):  # 48 h at rated load: many oil time constants
        spots.advance(3600.0, np.array([1.0]))
    assert spots.hot_spot_c[0] == pytest.approx(20.0 + TOP_OIL_RISE_K + HOT_SPOT_GRADIENT_K, abs=0.01)  # 98 °C


def test_long_steps_follow_the_same_curve_as_short_ones():
    short, long = HotSpots(1, 30.0), HotSpots(1, 30.0)
    for _ in range(3600):
        short.advance(1.0, np.array([1.3]))
    long.advance(3600.0, np.array([1.3]))
    assert long.hot_spot_c[0] == pytest.approx(short.hot_spot_c[0], abs=0.5)


def _protect(minutes_at_150_pct: float) -> list:
    trips = []
    protection = ThermalProtection(TransformerProtection(enabled=True), ["T1"],
                                   lambda fault, source: trips.append((fault, source)))
    t_s = 0.0
    for _ in range(int(minutes_at_150_pct * 60)):
        t_s += 1.0
        protection.check(t_s, 1.0, np.array([150.0]))
    return trips


def test_a_short_overload_does_not_trip_and_a_long_one_trips_once():
    assert _protect(10.0) == []  # 10 min at 150 %: the winding heats, the oil has barely started
    trips = _protect(240.0)  # 4 h at 150 %: the oil follows, the hot spot passes 140 °C
    fault, source = trips[0]
    assert fault.kind == "transformer_outage" and fault.device == "T1" and fault.duration_s == 3600.0
    assert 2 * 3600 < fault.start_s < 4 * 3600 and "thermal protection, hot spot 14" in source
    # this stub never opens it, so it stays hot: the next trip comes only when the lockout has run out
    assert [f.start_s for f, _ in trips[1:]] == [fault.start_s + 3600.0]


def _run(tmp_path, protection: TransformerProtection):
    from twin.run.session import run_scenario

    scenario = load_scenario(HOLIDAY).with_options(duration_s=3600.0)
    scenario = scenario.model_copy(update={"site": scenario.site.model_copy(
        update={"transformer_protection": protection})})
    assert run_scenario(scenario, tmp_path).status == "completed"
    return [e for e in read_events(tmp_path).to_pylist() if e["kind"] == "fault"], read_timeseries(tmp_path)


def test_a_run_trips_a_hot_transformer_as_a_fault_and_only_when_enabled(tmp_path):
    hot = TransformerProtection(enabled=True, ambient_c=60.0, trip_hot_spot_c=80.0, lockout_s=600.0)
    faults, series = _run(tmp_path / "on", hot)
    assert faults and all(f["detail"].startswith("transformer_outage (thermal protection, hot spot ") for f in faults)
    first = faults[0]
    t_s = series.column("t_s").to_numpy()
    loading = series.column(f"trafo_loading_pct.{first['device']}").to_numpy()
    assert loading[t_s <= first["t_s"]].max() > 0  # it carried load until the trip
    assert np.all(loading[(t_s > first["t_s"] + 1) & (t_s <= first["t_s"] + 600)] == 0.0)  # open for the lockout
    off, _ = _run(tmp_path / "off", hot.model_copy(update={"enabled": False}))
    assert off == []


def test_the_site_reference_quotes_the_models_constants():
    from twin.model import thermal as t

    quoted = (f"x {t.OIL_EXPONENT_X:g}, y {t.WINDING_EXPONENT_Y:g}, R {t.LOSS_RATIO_R:g}, k11 {t.K11:.1f}, "
              f"k21 {t.K21:.1f}, k22 {t.K22:.1f}, oil time constant {t.TAU_OIL_S / 60:g} min, winding "
              f"{t.TAU_WINDING_S / 60:g} min, top-oil rise {t.TOP_OIL_RISE_K:g} K and hot-spot gradient "
              f"{t.HOT_SPOT_GRADIENT_K:g} K at rated load")
    assert quoted in " ".join(TransformerProtection.__doc__.split())

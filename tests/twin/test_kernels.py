"""The fast path equals its plain references: kernels bit for bit (element-wise) or within 1e-9 pu
(power flow), tabulated profile means bit for bit, whole runs the same with and without kernels."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from tests.conftest import FREIGHT_SITE, PASSENGER_SITE, run_twin
from twin.config.site import load_site
from twin.model import kernels
from twin.model.core import group_sums_reference
from twin.model.devices.charger import ChargingSlots, Occupant, share
from twin.model.grid import Grid, _DenseNewton, injection_points
from twin.model.profiles import IntervalMean

pytestmark = pytest.mark.skipif(not kernels.COMPILED, reason="SATWIN_KERNELS=reference: nothing compiled to compare")


def _slots(env: simpy.Environment, rng: np.random.Generator, n: int = 40) -> ChargingSlots:
    slots = ChargingSlots(env, rng.choice([60.0, 120.0, 480.0, 1200.0], n), rng.uniform(93, 97, n),
                          rng.uniform(5, 50, n))
    for slot in range(n):
        if rng.random() < 0.8:
            soc = rng.uniform(10, 99)
            slots.plug(slot, Occupant(rng.uniform(50, 600), soc, rng.choice([80.0, 90.0, soc]),
                                      rng.uniform(50, 1200), rng.uniform(60, 85)))
    slots.faulted[rng.random(n) < 0.1] = True
    slots.p_limit_kw[rng.random(n) < 0.3] = 30.0
    return slots


@pytest.mark.parametrize("dt_s", [1.0, 60.0, 900.0])
def test_charging_kernels_equal_the_numpy_reference_bit_for_bit(dt_s):
    env_a, env_b = simpy.Environment(), simpy.Environment()
    fast, plain = _slots(env_a, np.random.default_rng(4)), _slots(env_b, np.random.default_rng(4))
    plain.compiled = False
    fired = 0
    for step in range(200):
        (wanted_fast, total_fast), (wanted_plain, total_plain) = fast.want(), plain.want()
        assert np.array_equal(wanted_fast, wanted_plain), step
        assert total_fast == total_plain == wanted_plain.sum(), step
        scale = 0.5 + 0.5 * (step % 3) / 2  # a site cap binding on some steps
        (granted_fast, to_target_fast), (granted_plain, to_target_plain) = (
            fast.grant(wanted_fast, scale), plain.grant(wanted_plain, scale))
        assert np.array_equal(granted_fast, granted_plain) and to_target_fast == to_target_plain, step
        p_fast = fast.advance(dt_s, granted_fast)
        p_plain = plain.advance(dt_s, granted_plain)
        for name in ("p_kw", "soc_pct", "energy_kwh"):
            assert np.array_equal(getattr(fast, name), getattr(plain, name)), (name, step)
        assert np.array_equal(p_fast, p_plain)
        assert fast.p_total_kw == plain.p_total_kw == p_plain.sum(), step
        done_fast = [e is not None and e.triggered for e in fast.done]
        assert done_fast == [e is not None and e.triggered for e in plain.done]
        fired = sum(done_fast)
    assert fired > 5  # batteries did reach their targets, so the event path was compared too


@pytest.mark.parametrize("packs_mode", ["none", "on", "tripped"])
def test_sharing_a_cap_between_connectors_and_packs_equals_the_reference_bit_for_bit(packs_mode):
    """``share`` (one kernel call a charging part) against ``share_reference`` (the per-set
    methods): the same wanted and granted rows, total, scale and time to the first full battery,
    with the cap binding or not and an outage cutting some connectors off."""
    rng = np.random.default_rng(9)
    fast_env, plain_env = simpy.Environment(), simpy.Environment()
    fast = _slots(fast_env, np.random.default_rng(5)), _slots(fast_env, np.random.default_rng(6), n=7)
    plain = _slots(plain_env, np.random.default_rng(5)), _slots(plain_env, np.random.default_rng(6), n=7)
    for slots in plain:
        slots.compiled = False
    scales, packs_drew = set(), False
    for step in range(120):
        cars_live = None if step % 4 else rng.random(len(fast[0].p_kw)) < 0.7
        cap_kw = float(rng.uniform(0.2, 1.5) * sum(slots.wanted_kw_reference().sum() for slots in plain))
        results = []
        for cars, packs in (fast, plain):
            results.append(share(cars, cars_live, None if packs_mode == "none" else packs, packs_mode == "tripped",
                                 cap_kw))
            for slots in (cars, packs) if packs_mode != "none" else (cars,):
                slots.advance(60.0)
        assert results[0] == results[1], step
        scales.add(results[0][1] < 1.0)
        packs_drew = packs_drew or bool(fast[1].p_kw.any())
        for a, b in zip(fast, plain):
            assert np.array_equal(a.state, b.state) and np.array_equal(a.flags, b.flags), step
    assert scales == {True, False}  # the cap bound on some parts and not on others
    assert packs_drew == (packs_mode == "on")  # tripped packs draw nothing, nor do packs left out


def test_the_kernels_sum_is_numpys_bit_for_bit():
    """``array_sum`` is ``a.sum()`` to the last bit (numpy sums pairwise; a plain loop differs in the
    last bits from 8 items on), so a kernel's total leaves a run as the reference's ``.sum()`` does."""
    rng = np.random.default_rng(8)
    plain_loop_differs = 0
    for trial in range(600):
        n = int(rng.integers(0, 200)) if trial % 3 else int(rng.integers(200, 3000))  # one block, or halved
        a = rng.normal(size=n) * 10.0 ** rng.uniform(-6, 6, size=n)
        if trial % 10 == 0:
            a = -np.abs(a) * 0.0  # -0.0 everywhere: numpy's sum is +0.0
        assert kernels.array_sum(a) == a.sum() and np.signbit(kernels.array_sum(a)) == np.signbit(a.sum()), n
        loop = 0.0
        for x in a:
            loop += x
        plain_loop_differs += loop != a.sum()
    assert plain_loop_differs > 100  # the test can tell the pairwise order from a plain loop


@pytest.mark.parametrize("site_path", [FREIGHT_SITE, PASSENGER_SITE])
def test_compiled_power_flow_equals_the_numpy_newton_and_runpp(site_path):
    site = load_site(site_path)
    points = injection_points(site)
    grid, full = Grid(site, points), Grid(site, points, backend="pandapower")
    assert grid._newton.compiled and "numba" in grid.backend_name
    plain = _DenseNewton(grid, compiled=False)
    rng = np.random.default_rng(11)
    p = np.array([-800.0 if pt.element == "sgen" else 0.0 if pt.element == "storage" else 700.0 for pt in points])
    q = 0.2 * np.clip(p, 0, None)
    for k in range(60):  # a drifting day: consecutive steps differ a little, sometimes a lot
        p = p * rng.uniform(0.97, 1.03, len(p)) + (rng.uniform(-300, 300, len(p)) if k % 15 == 0 else 0.0)
        a, b, c = grid.solve(p, q), plain.solve(p, q), full.solve(p, q)
        assert np.abs(a.v_pu - b.v_pu).max() < 1e-9
        assert np.abs(a.v_pu - c.v_pu).max() < 1e-6
        for name in ("p_import_kw", "q_import_kvar", "p_slack_kw", "losses_kw"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-6), name
            assert getattr(a, name) == pytest.approx(getattr(c, name), abs=1e-3), name
        np.testing.assert_allclose(a.line_loading_pct, b.line_loading_pct, atol=1e-7)
        np.testing.assert_allclose(a.trafo_loading_pct, c.trafo_loading_pct, atol=1e-4)
        assert a.p_slack_kw == pytest.approx(p.sum() + a.losses_kw, abs=1e-3)  # power balance
    solves = grid.solves
    grid.solve(p.copy(), q.copy())  # unchanged injections are not solved again
    assert grid.solves == solves


def test_tabulated_profile_means_equal_the_scalar_path_bit_for_bit():
    rng = np.random.default_rng(2)
    values = np.cumsum(rng.normal(0, 5, (1442, 3)), axis=0)
    for step_s in (1.0, 60.0, 900.0, 7.5):
        tabulated, scalar = IntervalMean(values, 60.0), IntervalMean(values, 60.0)
        t0 = 0.0
        for _ in range(300):
            t1 = t0 + step_s
            expected = (scalar._integral(t1) - scalar._integral(t0)) / (t1 - t0)
            assert np.array_equal(tabulated.mean(t0, t1), expected), (step_s, t0)
            t0 = t1
        assert len(tabulated._step_means) > 0  # the table was used, not only the fallback
    off_grid = IntervalMean(values, 60.0)
    off_grid.mean(0.0, 60.0)
    assert np.array_equal(off_grid.mean(30.0, 90.0), (off_grid._integral(90.0) - off_grid._integral(30.0)) / 60.0)


def test_a_run_with_kernels_equals_the_plain_model(holiday, monkeypatch):
    short = holiday.with_options(step_s=10.0, duration_s=3 * 3600.0)
    _, fast = run_twin(short)
    monkeypatch.setattr(kernels, "COMPILED", False)
    twin, plain = run_twin(short)
    assert not twin.chargers.compiled and not twin.grid._newton.compiled
    assert max(s.ev_p_kw for s in plain) > 500  # under real load
    for a, b in zip(fast, plain):
        assert a.arrived == b.arrived and a.served == b.served
        assert a.grid_p_kw == pytest.approx(b.grid_p_kw, abs=1e-6)
        assert a.bess_soc_pct == pytest.approx(b.bess_soc_pct, abs=1e-9)
        np.testing.assert_allclose(a.charger_p_kw, b.charger_p_kw, atol=1e-6)
        np.testing.assert_allclose(a.v_pu, b.v_pu, atol=1e-9)


@pytest.mark.parametrize("n_groups, n", [(1, 1), (3, 28), (6, 40), (4, 3)])
def test_group_sums_kernel_equals_bincount_bit_for_bit(n_groups, n):
    rng = np.random.default_rng(n)
    for trial in range(20):
        group = rng.integers(0, n_groups, n)
        if trial % 2:
            group.sort()  # as the twin lays its connectors out, group by group
        p_kw = rng.uniform(0.0, 1200.0, n) * (rng.random(n) < 0.7)
        q_per_p = rng.uniform(0.0, 0.5, n)
        fast = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
        plain = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
        kernels.group_sums(group, p_kw, q_per_p, *fast)
        group_sums_reference(group, p_kw, q_per_p, *plain)
        assert np.array_equal(fast[0], plain[0]) and np.array_equal(fast[1], plain[1]), trial

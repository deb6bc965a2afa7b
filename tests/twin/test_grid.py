"""The fast power flow agrees with full pandapower, and the exported network is pandapower's own."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from tests.conftest import FREIGHT_SITE, PASSENGER_SITE
from twin.config.site import load_site
from twin.model.grid import Grid, injection_points


def _random_injections(points, rng):
    p = np.array([-rng.uniform(0, 1200) if pt.element == "sgen" else
                  rng.uniform(-3200, 3200) if pt.element == "storage" else rng.uniform(0, 2200) for pt in points])
    q = np.where(p > 0, p * rng.uniform(0, 0.3), 0.0)
    return p, q


@pytest.mark.parametrize("site_path", [FREIGHT_SITE, PASSENGER_SITE])
def test_fast_path_matches_runpp_within_1e_6_pu(site_path):
    site = load_site(site_path)
    points = injection_points(site)
    fast, full = Grid(site, points), Grid(site, points, backend="pandapower")
    rng = np.random.default_rng(7)
    for _ in range(25):
        p, q = _random_injections(points, rng)
        a, b = fast.solve(p, q), full.solve(p, q)
        assert np.abs(a.v_pu - b.v_pu).max() < 1e-6
        assert a.p_import_kw == pytest.approx(b.p_import_kw, abs=1e-3)
        assert a.q_import_kvar == pytest.approx(b.q_import_kvar, abs=1e-3)
        assert a.p_slack_kw == pytest.approx(b.p_slack_kw, abs=1e-3)
        assert a.losses_kw == pytest.approx(b.losses_kw, abs=1e-3)
        np.testing.assert_allclose(a.line_loading_pct, b.line_loading_pct, atol=1e-4)
        np.testing.assert_allclose(a.trafo_loading_pct, b.trafo_loading_pct, atol=1e-4)
        # power balance: slack = consumption - generation + losses
        assert a.p_slack_kw == pytest.approx(p.sum() + a.losses_kw, abs=1e-3)


def test_unchanged_injections_are_not_solved_again():
    site = load_site(FREIGHT_SITE)
    points = injection_points(site)
    grid = Grid(site, points)
    p, q = _random_injections(points, np.random.default_rng(1))
    grid.solve(p, q)
    grid.solve(p.copy(), q.copy())
    assert grid.solves == 1
    p[0] += 1.0
    grid.solve(p, q)
    assert grid.solves == 2


def test_exported_json_reloads_in_pandapower_with_the_same_result(tmp_path):
    site = load_site(FREIGHT_SITE)
    points = injection_points(site)
    grid = Grid(site, points)
    p, q = _random_injections(points, np.random.default_rng(3))
    state = grid.solve(p, q)
    path = tmp_path / "net.json"
    grid.export_json(path, p, q)
    net = pp.from_json(str(path))
    pp.runpp(net, numba=False)
    buses = [int(net.bus.index[net.bus.name == name][0]) for name in grid.bus_names]
    assert np.abs(net.res_bus.vm_pu.to_numpy()[buses] - state.v_pu).max() < 1e-6
    assert len(net.trafo) == len(site.transformers) and len(net.storage) == 1


def test_a_grid_from_the_process_cache_solves_like_a_fresh_one_and_builds_its_network_for_a_fault(
        tmp_path, monkeypatch):
    """The second twin of a site takes its solver from the cache (no pandapower network built),
    gives the same results bit for bit, and builds the network when a fault changes the topology."""
    from twin.model import grid as grid_module
    from twin.model import grid_cache

    monkeypatch.setattr(grid_cache, "CACHE_DIR", tmp_path)  # empty: the first grid is built
    site = load_site(FREIGHT_SITE)
    points = injection_points(site)
    rng = np.random.default_rng(3)
    steps = [(rng.uniform(0, 300, len(points)), rng.uniform(0, 50, len(points))) for _ in range(5)]
    grid_module._START.clear()
    fresh = grid_module.Grid(site, points)
    cached = grid_module.Grid(site, points)
    assert fresh._net is not None and cached._net is None
    for p, q in steps:
        a, b = fresh.solve(p, q), cached.solve(p, q)
        assert np.array_equal(a.v_pu, b.v_pu) and a.p_import_kw == b.p_import_kw
    line = site.lines[0].name
    for grid in (fresh, cached):
        grid.set_topology(frozenset({line}), islanded=False)
    assert cached._net is not None
    a, b = fresh.solve(*steps[0]), cached.solve(*steps[0])
    assert np.array_equal(a.v_pu, b.v_pu) and np.array_equal(a.line_loading_pct, b.line_loading_pct)


def test_a_solver_kept_on_disk_solves_like_a_fresh_one_and_a_later_process_needs_no_pandapower(
        tmp_path, monkeypatch):
    """The solver of a site as built is kept on disk (``grid_cache``): a later process of the same
    site loads it, gives the same results bit for bit and never imports pandapower; an unreadable
    entry is built again."""
    import subprocess
    import sys

    from twin.model import grid as grid_module
    from twin.model import grid_cache

    monkeypatch.setattr(grid_cache, "CACHE_DIR", tmp_path)
    site = load_site(PASSENGER_SITE)
    points = injection_points(site)
    grid_module._START.clear()
    fresh = grid_module.Grid(site, points)
    [entry] = tmp_path.glob("*.pickle")
    grid_module._START.clear()  # as a new process: only the disk has it
    loaded = grid_module.Grid(site, points)
    assert fresh._net is not None and loaded._net is None
    rng = np.random.default_rng(11)
    for _ in range(5):
        p, q = _random_injections(points, rng)
        a, b = fresh.solve(p, q), loaded.solve(p, q)
        assert np.array_equal(a.v_pu, b.v_pu) and np.array_equal(a.trafo_loading_pct, b.trafo_loading_pct)
        assert a.p_import_kw == b.p_import_kw and a.losses_kw == b.losses_kw

    script = (f"import sys; from pathlib import Path; from twin.model import grid_cache; "
              f"grid_cache.CACHE_DIR = Path({str(tmp_path)!r}); "
              f"from twin.config.site import load_site; from twin.model.grid import Grid, injection_points; "
              f"site = load_site(Path({str(PASSENGER_SITE)!r})); grid = Grid(site, injection_points(site)); "
              f"state = grid.solve(*[[100.0] * len(grid.points)] * 2); "
              f"print('pandapower' in sys.modules, grid._net is None, round(state.p_import_kw, 6))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = round(fresh.solve(*[np.full(len(points), 100.0)] * 2).p_import_kw, 6)
    assert done.stdout.split() == ["False", "True", str(expected)]

    entry.write_bytes(b"torn")  # a half-written or foreign entry: built again, never a failure
    grid_module._START.clear()
    rebuilt = grid_module.Grid(site, points)
    assert rebuilt._net is not None
    assert np.abs(rebuilt.solve(p, q).v_pu - fresh.solve(p, q).v_pu).max() < 1e-9  # other warm starts

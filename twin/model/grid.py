"""The service-area network in pandapower, and a fast warm-started power flow on it.

This is the only module that imports pandapower. The network is built from the site file
(utility feeder, buses, MV/LV transformers, cables; PV as sgen, BESS as storage, chargers,
swap station and buildings as loads), so an engineer can export it and open it in
pandapower. Each step the twin hands in one P/Q value per injection point; the power flow
then gives grid import, bus voltages, branch loading and losses.

Why a solver of our own: a plain ``runpp`` costs ~10 ms of bookkeeping a call, which
makes 24 h at 1 s steps take a quarter of an hour. We take pandapower's own admittance
matrices (Ybus, Yf, Yt) once, and run Newton-Raphson on them with dense numpy, warm-started
from the previous step's voltages; a step whose injections did not change is not solved
again. ``backend="pandapower"`` runs full ``runpp`` each step instead; a test checks that
both agree within 1e-6 pu.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from twin.config.errors import SimulationError
from twin.config.site import FEEDER_LINE, UTILITY_BUS, Site
from twin.model import grid_cache, kernels

if TYPE_CHECKING:
    import pandapower as pp


def _pandapower():
    """pandapower, imported when first needed: a run whose solver comes from ``grid_cache``
    and whose topology never changes does not import it (~35 MB, ~1 s a process)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower
    return pandapower

Backend = Literal["newton", "pandapower"]
SQRT3 = math.sqrt(3.0)
ISLAND_SOURCE = "bess_grid_forming"


@dataclass(frozen=True)
class InjectionPoint:
    """One place where the twin puts power into the network (consumption positive, kW)."""

    name: str
    bus: str
    element: Literal["load", "sgen", "storage"]


@dataclass(frozen=True)
class GridState:
    """Power-flow result of one step. Arrays follow ``Grid.bus_names`` / ``line_names`` / ``trafo_names``."""

    p_import_kw: float  # at the point of connection, import positive
    q_import_kvar: float
    p_slack_kw: float  # at the utility substation (includes feeder losses)
    v_pu: np.ndarray
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    losses_kw: float


def injection_points(site: Site) -> list[InjectionPoint]:
    """The site's injection points in the twin's order: PV arrays, BESS, charger groups, swap, loads."""
    points = [InjectionPoint(a.name, a.bus, "sgen") for a in site.pv]
    if site.bess:
        points.append(InjectionPoint(site.bess.name, site.bess.bus, "storage"))
    points += [InjectionPoint(g.name, g.bus, "load") for g in site.chargers]
    if site.swap:
        points.append(InjectionPoint(site.swap.name, site.swap.bus, "load"))
    points += [InjectionPoint(load.name, load.bus, "load") for load in site.loads]
    return points


_EMPTY_NETWORK: list[pp.pandapowerNet] = []  # pandapower takes ~0.3 s to lay out an empty net: once a process


def _empty_network(name: str) -> pp.pandapowerNet:
    if not _EMPTY_NETWORK:
        _EMPTY_NETWORK.append(_pandapower().create_empty_network(sn_mva=1.0))
    net = copy.deepcopy(_EMPTY_NETWORK[0])
    net.name = name
    return net


def build_network(site: Site, points: list[InjectionPoint]) -> tuple[pp.pandapowerNet, dict[str, int]]:
    """The pandapower network of ``site``; returns it with the bus-name -> index map.

    Elements are created table by table (``create_buses`` ...): one by one, pandapower's
    bookkeeping took most of a twin's start-up.
    """
    pp = _pandapower()
    net = _empty_network(site.name)
    u = site.utility
    names = [UTILITY_BUS, *(b.name for b in site.buses)]
    indices = pp.create_buses(net, len(names), vn_kv=[u.vn_kv, *(b.vn_kv for b in site.buses)], name=names)
    bus = dict(zip(names, (int(i) for i in indices)))
    pp.create_ext_grid(net, bus[UTILITY_BUS], vm_pu=u.vm_pu, name="utility")
    if site.bess is not None:  # the battery forms the grid when the utility is lost (islanding)
        pp.create_ext_grid(net, bus[site.bess.bus], vm_pu=1.0, name=ISLAND_SOURCE, in_service=False)
    feeder = (UTILITY_BUS, u.connection_bus, u.feeder_length_km, u.feeder_r_ohm_per_km, u.feeder_x_ohm_per_km,
              u.feeder_c_nf_per_km, u.feeder_max_i_ka, FEEDER_LINE, 1)
    lines = [feeder, *((ln.from_bus, ln.to_bus, ln.length_km, ln.r_ohm_per_km, ln.x_ohm_per_km, ln.c_nf_per_km,
                        ln.max_i_ka, ln.name, ln.parallel) for ln in site.lines)]
    from_bus, to_bus, length_km, r_ohm, x_ohm, c_nf, max_i_ka, line_names, parallel = zip(*lines)
    pp.create_lines_from_parameters(net, [bus[b] for b in from_bus], [bus[b] for b in to_bus], length_km, r_ohm,
                                    x_ohm, c_nf, max_i_ka, name=line_names, parallel=parallel)
    trafos = site.transformers
    if trafos:
        pp.create_transformers_from_parameters(
            net, [bus[t.hv_bus] for t in trafos], [bus[t.lv_bus] for t in trafos], [t.sn_kva / 1000 for t in trafos],
            [t.vn_hv_kv for t in trafos], [t.vn_lv_kv for t in trafos], [t.vkr_percent for t in trafos],
            [t.vk_percent for t in trafos], [t.pfe_kw for t in trafos], [t.i0_percent for t in trafos],
            name=[t.name for t in trafos])
    rating_kva = _ratings_kva(site)
    for element, create in (("sgen", pp.create_sgens), ("storage", pp.create_storages), ("load", pp.create_loads)):
        members = [p for p in points if p.element == element]
        if members:
            sn_mva = [rating_kva[p.name] / 1000.0 for p in members]
            extra = {"max_p_mw": sn_mva} if element == "sgen" else _storage_ratings(site) if element == "storage" else {}
            create(net, [bus[p.bus] for p in members], p_mw=0.0, sn_mva=sn_mva, name=[p.name for p in members],
                   **extra)
    return net, bus


def _storage_ratings(site: Site) -> dict[str, float]:
    """The battery's energy, SoC window and power limits, as pandapower's storage table has them."""
    spec = site.bess
    return {"max_e_mwh": spec.e_kwh / 1000.0, "min_e_mwh": spec.soc_min_pct / 100.0 * spec.e_kwh / 1000.0,
            "soc_percent": spec.soc_init_pct, "max_p_mw": spec.p_max_kw / 1000.0, "min_p_mw": -spec.p_max_kw / 1000.0}


def _ratings_kva(site: Site) -> dict[str, float]:
    """Apparent-power rating of each injection point, for the exported network's ``sn_mva``."""
    ratings = {a.name: a.inverter_kw for a in site.pv}
    if site.bess:
        ratings[site.bess.name] = site.bess.p_max_kw
    ratings.update({g.name: g.count * g.p_max_kw / g.power_factor for g in site.chargers})
    if site.swap:
        s = site.swap
        ratings[s.name] = (s.pack_chargers * s.pack_charger_kw + s.aux_kw) / s.power_factor
    ratings.update({load.name: load.p_peak_kw / load.power_factor for load in site.loads})
    return ratings


# the solvers of the last sites built as they are (no fault), by (site, compiled): energized points, _DenseNewton
START_CACHE_SITES = 16
_START: dict[tuple[str, bool], tuple[np.ndarray, _DenseNewton]] = {}


def _remember_start(key: tuple[str, bool], energized: np.ndarray, newton: _DenseNewton) -> None:
    if len(_START) >= START_CACHE_SITES:
        del _START[next(iter(_START))]  # the oldest: a sweep over sizes must not keep every one
    _START[key] = (energized, newton)


class Grid:
    """The site network and its power flow; ``solve`` is called once per step."""

    def __init__(self, site: Site, points: list[InjectionPoint], backend: Backend = "newton") -> None:
        self.site = site
        self.points = points
        self.backend = backend
        self._net: pp.pandapowerNet | None = None  # built when first needed (see ``net``)
        self._bus_index = {name: i for i, name in enumerate([UTILITY_BUS, *(b.name for b in site.buses)])}
        self.bus_names = [b.name for b in site.buses]
        self.line_names = [FEEDER_LINE] + [ln.name for ln in site.lines]
        self.trafo_names = [t.name for t in site.transformers]
        self._element_rows = {e: [i for i, p in enumerate(points) if p.element == e] for e in ("load", "sgen", "storage")}
        self._newton: _DenseNewton | None = None
        self.solves = 0
        self.islanded = False
        self._island_source = True
        self.out_of_service: frozenset[str] = frozenset()
        self.energized = np.ones(len(points), dtype=bool)  # injection points that have a source
        self.all_energized = True
        self._rebuild()

    @property
    def net(self) -> pp.pandapowerNet:
        """The pandapower network of the site, built on first use: a run whose topology never
        changes takes its solver from the process's cache (``_START``) and never needs it."""
        if self._net is None:
            self._net, bus_index = build_network(self.site, self.points)
            assert bus_index == self._bus_index  # buses are created in site order, the utility first
            zeros = np.zeros(len(self.points))
            self.write_injections(zeros, zeros)
            _pandapower().runpp(self._net, numba=False)  # its internal case, as a built grid has it (``_DenseNewton``)
        return self._net

    # -- topology (faults) ---------------------------------------------------------------
    def set_topology(self, out_of_service: frozenset[str], islanded: bool, island_source: bool = True) -> None:
        """Open lines/transformers by name and/or lose the utility; rebuilds the fast solver.

        ``island_source``: whether the battery can form the grid when the utility is lost.
        """
        if (out_of_service, islanded, island_source) == (self.out_of_service, self.islanded, self._island_source):
            return
        self.out_of_service, self.islanded, self._island_source = out_of_service, islanded, island_source
        # losing the utility opens the point-of-connection breaker: the island keeps no dead feeder
        opened = out_of_service | {FEEDER_LINE} if islanded else out_of_service
        for table in ("line", "trafo"):
            self.net[table]["in_service"] = ~self.net[table].name.isin(opened)
        grid_source = self.net.ext_grid.name == "utility"
        self.net.ext_grid.loc[grid_source, "in_service"] = not islanded
        self.net.ext_grid.loc[~grid_source, "in_service"] = islanded and island_source
        self._rebuild()

    def set_source_voltage(self, vm_pu: float) -> None:
        """Utility voltage at the substation (a sag lowers it)."""
        self.net.ext_grid.loc[self.net.ext_grid.name == "utility", "vm_pu"] = vm_pu
        if self._newton is not None and not self.islanded:
            self._newton.set_slack_voltage(vm_pu)

    @property
    def has_source(self) -> bool:
        return self._has_source  # read every step: cached at each topology change, not asked of pandas

    def _rebuild(self) -> None:
        """Find what is energized and, for the fast path, take pandapower's matrices again.

        The site as built (no fault yet) comes from the cache when this process has built the
        same site before: a sweep's runs of one site differ in seeds and scenario, not network.
        """
        as_built = self.backend == "newton" and self._net is None
        key = (self.site.model_dump_json(), kernels.COMPILED) if as_built else None
        if key is not None and key not in _START:  # built by an earlier process?
            kept = grid_cache.load(*key)
            if isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[1], _DenseNewton):
                kept[1].load_kernels()
                _remember_start(key, *kept)
        if key in _START:
            energized, newton = _START[key]
            self._has_source, self.energized, self.all_energized = True, energized.copy(), bool(energized.all())
            self._newton = newton.fresh_copy(self)
            return
        zeros = np.zeros(len(self.points))
        self._has_source = bool(self.net.ext_grid.in_service.any())
        if not self.has_source:
            self.energized[:] = False
            self.all_energized = False
            self._newton = None
            return
        self.write_injections(zeros, zeros)
        _pandapower().runpp(self.net, numba=False)  # builds the internal case the fast path takes its matrices from
        live = self.net.res_bus.vm_pu.notna().to_numpy()
        self.energized = np.array([live[self._bus_index[p.bus]] for p in self.points], dtype=bool)
        self.all_energized = bool(self.energized.all())
        if self.backend == "newton":
            self._newton = _DenseNewton(self, compiled=kernels.COMPILED)
        if key is not None and self.has_source:
            _remember_start(key, self.energized.copy(), self._newton.fresh_copy(None))
            grid_cache.store(*key, _START[key])

    # -- the pandapower side -----------------------------------------------------------
    def write_injections(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> None:
        """Put injections (consumption positive) into the pandapower element tables."""
        for element, rows in self._element_rows.items():
            if not rows:
                continue
            sign = -1.0 if element == "sgen" else 1.0
            table = self.net[element]
            table["p_mw"] = sign * p_kw[rows] / 1000.0
            table["q_mvar"] = sign * q_kvar[rows] / 1000.0

    def run_pandapower(self, p_kw: np.ndarray, q_kvar: np.ndarray, init: str = "auto") -> GridState:
        """Full ``pandapower.runpp`` and its results, the reference the fast path is checked against."""
        self.write_injections(p_kw, q_kvar)
        pp = _pandapower()
        try:
            pp.runpp(self.net, init=init, numba=False, tolerance_mva=1e-9)
        except pp.LoadflowNotConverged:
            raise SimulationError("power flow did not converge (pandapower runpp)") from None
        self.solves += 1
        res_line, res_trafo = self.net.res_line, self.net.res_trafo
        feeder = 0  # created first
        bus_rows = [self._bus_index[name] for name in self.bus_names]
        losses = float(res_line.pl_mw.fillna(0.0).sum() + res_trafo.pl_mw.fillna(0.0).sum()) * 1000.0
        return GridState(
            p_import_kw=-float(np.nan_to_num(res_line.p_to_mw.iat[feeder])) * 1000.0,
            q_import_kvar=-float(np.nan_to_num(res_line.q_to_mvar.iat[feeder])) * 1000.0,
            p_slack_kw=float(self.net.res_ext_grid.p_mw.fillna(0.0).sum()) * 1000.0,
            v_pu=np.nan_to_num(self.net.res_bus.vm_pu.to_numpy()[bus_rows]),
            line_loading_pct=np.nan_to_num(res_line.loading_percent.to_numpy()),
            trafo_loading_pct=np.nan_to_num(res_trafo.loading_percent.to_numpy()),
            losses_kw=float(np.nan_to_num(losses)),
        )

    def export_json(self, path: str | Path, p_kw: np.ndarray | None = None, q_kvar: np.ndarray | None = None) -> None:
        """Write the network in pandapower's own JSON format (open it with ``pandapower.from_json``)."""
        if p_kw is not None and q_kvar is not None:
            self.write_injections(p_kw, q_kvar)
        _pandapower().to_json(self.net, str(path))

    # -- the step ----------------------------------------------------------------------
    def solve(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> GridState:
        """Power flow for one step's injections, with the configured backend."""
        if not self.has_source:  # blackout: nothing flows
            return GridState(0.0, 0.0, 0.0, np.zeros(len(self.bus_names)), np.zeros(len(self.line_names)),
                             np.zeros(len(self.trafo_names)), 0.0)
        if self._newton is None:
            return self.run_pandapower(p_kw, q_kvar, init="results" if self.solves else "auto")
        return self._newton.solve(p_kw, q_kvar)

    @property
    def backend_name(self) -> str:
        if self._newton is None:
            return "pandapower runpp (every step)"
        kind = "compiled (numba)" if self._newton.compiled else "numpy reference"
        return f"dense Newton-Raphson on pandapower's Ybus, {kind} (warm start, unchanged steps skipped)"


class _DenseNewton:
    """Newton-Raphson in polar form on pandapower's internal admittance matrices.

    All buses but the slack are PQ buses (PV, BESS and chargers are PQ injections), so the
    Jacobian is the classic 2(n-1) square system; the slack is moved to index 0 so the
    non-slack block is a plain slice. Buses and branches that pandapower drops from its
    internal case (out of service, or cut off by an outage) report 0 pu and 0 % loading.

    ``compiled``: the Newton iterations and the branch results run as the kernels of
    ``twin.model.kernels``; otherwise as the numpy reference below (the same expressions).
    """

    def __init__(self, grid: Grid, compiled: bool = True) -> None:
        self.compiled = compiled
        net = grid.net
        internal = net._ppc["internal"]
        lookup = net._pd2ppc_lookups["bus"]
        n = internal["bus"].shape[0]
        ref = int(internal["ref"][0])
        order = np.r_[ref, np.setdiff1d(np.arange(n), [ref])]  # slack first
        position = np.full(max(n, int(lookup.max()) + 1), -1, dtype=int)
        position[order] = np.arange(n)
        self.base_mva = float(internal["baseMVA"])
        self.y_bus = internal["Ybus"].toarray()[np.ix_(order, order)]
        self.y_from = internal["Yf"].toarray()[:, order]
        self.y_to = internal["Yt"].toarray()[:, order]
        branch = internal["branch"]
        self.branch_from = position[branch[:, 0].real.astype(int)]
        self.branch_to = position[branch[:, 1].real.astype(int)]
        # injection point -> internal bus: an incidence matrix turns per-point kW into per-bus MW
        point_bus = position[lookup[[grid._bus_index[p.bus] for p in grid.points]]]
        alive = point_bus >= 0
        self.incidence = np.zeros((n, len(grid.points)))
        self.incidence[point_bus[alive], np.flatnonzero(alive)] = 1.0 / 1000.0 / self.base_mva
        self.bus_rows = position[lookup[[grid._bus_index[name] for name in grid.bus_names]]]
        base_kv = internal["bus"][:, 9].real[order]
        self.i_base_ka = self.base_mva / (SQRT3 * base_kv)
        # ppc branch -> internal row (-1 where pandapower left the branch out)
        in_service = np.asarray(internal["branch_is"], dtype=bool)
        row_of = np.where(in_service, np.cumsum(in_service) - 1, -1)
        line_slice, trafo_slice = net._pd2ppc_lookups["branch"]["line"], net._pd2ppc_lookups["branch"].get(
            "trafo", (0, 0))
        self.line_rows = row_of[np.arange(*line_slice)]
        self.trafo_rows = row_of[np.arange(*trafo_slice)]
        self.line_i_max_ka = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy()
        trafo = net.trafo
        self.trafo_i_rated_hv_ka = (trafo.sn_mva / (SQRT3 * trafo.vn_hv_kv) * trafo.parallel * trafo.df).to_numpy()
        self.trafo_i_rated_lv_ka = (trafo.sn_mva / (SQRT3 * trafo.vn_lv_kv) * trafo.parallel * trafo.df).to_numpy()
        self.y_slack_row = np.ascontiguousarray(self.y_bus[0])
        self.v = internal["V"][order].copy()
        self._diag = np.diag_indices(n)  # the Jacobian's diagonal, indexed every iteration
        self.load_kernels()
        self._last_s: np.ndarray | None = None
        self._s_bus = np.zeros(n, dtype=complex)  # the compiled path's bus injections, updated in place
        self._last_state: GridState | None = None
        self.grid = grid

    def load_kernels(self) -> None:
        """Load (or compile) the kernels now, not in the middle of the first step (compiled only)."""
        if self.compiled:
            n, points = len(self.v), self.incidence.shape[1]
            kernels.update_bus_power(self.incidence, np.zeros(points), np.zeros(points), np.zeros(n, dtype=complex))
            self._results_compiled(kernels.newton_pq(self.y_bus, self.v, np.zeros(n, dtype=complex), 1e-10, 1)[0])

    def fresh_copy(self, grid: Grid | None) -> _DenseNewton:
        """This solver's matrices, shared (never written), with its own start voltages and no history
        (``grid`` None: for the caches, which hold no grid)."""
        copied = copy.copy(self)
        copied.grid, copied.v, copied._s_bus = grid, self.v.copy(), np.zeros_like(self._s_bus)
        copied._last_s = copied._last_state = None
        return copied

    def set_slack_voltage(self, vm_pu: float) -> None:
        self.v[0] = vm_pu * self.v[0] / abs(self.v[0])
        self._last_state = None

    def solve(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> GridState:
        if self.compiled:
            changed = kernels.update_bus_power(self.incidence, p_kw, q_kvar, self._s_bus)
            if self._last_state is not None and not changed:
                return self._last_state
            s_bus = self._s_bus.copy()
        else:
            s_bus = -(self.incidence @ (p_kw + 1j * q_kvar))
            if self._last_state is not None and np.array_equal(s_bus, self._last_s):
                return self._last_state
        newton = self._newton_compiled if self.compiled else self._newton
        v = newton(s_bus, self.v)
        if v is None:  # a large jump can defeat the warm start; retry once from flat
            flat = np.ones_like(self.v)
            flat[0] = self.v[0]
            v = newton(s_bus, flat)
            if v is None:
                self._last_state = None  # the compiled path already took these injections in
                raise SimulationError("power flow did not converge: the site cannot be supplied at this load")
        self.v = v
        self.grid.solves += 1
        self._last_s, self._last_state = s_bus, (self._results_compiled if self.compiled else self._results)(v)
        return self._last_state

    def _newton_compiled(self, s_bus: np.ndarray, v0: np.ndarray, tol: float = 1e-10,
                         max_iter: int = 30) -> np.ndarray | None:
        v, converged = kernels.newton_pq(self.y_bus, v0, s_bus, tol, max_iter)
        return v if converged else None

    def _results_compiled(self, v: np.ndarray) -> GridState:
        return GridState(*kernels.grid_results(
            v, self.y_slack_row, self.y_from, self.y_to, self.branch_from, self.branch_to, self.i_base_ka,
            self.base_mva, self.bus_rows, self.line_rows, self.line_i_max_ka, self.trafo_rows,
            self.trafo_i_rated_hv_ka, self.trafo_i_rated_lv_ka))

    def _newton(self, s_bus: np.ndarray, v0: np.ndarray, tol: float = 1e-10, max_iter: int = 30) -> np.ndarray | None:
        y = self.y_bus
        v = v0.copy()
        vm, va = np.abs(v), np.angle(v)
        m = len(v) - 1
        for _ in range(max_iter):
            i_bus = y @ v
            mis = v * np.conj(i_bus) - s_bus
            f = np.concatenate((mis.real[1:], mis.imag[1:]))
            if np.max(np.abs(f), initial=0.0) < tol:
                return v
            v_norm = v / vm
            diag = self._diag
            ds_dvm = v[:, None] * np.conj(y * v_norm[None, :])
            ds_dvm[diag] += np.conj(i_bus) * v_norm
            ds_dva = -1j * v[:, None] * np.conj(y * v[None, :])
            ds_dva[diag] += 1j * v * np.conj(i_bus)
            jac = np.empty((2 * m, 2 * m))
            jac[:m, :m] = ds_dva.real[1:, 1:]
            jac[:m, m:] = ds_dvm.real[1:, 1:]
            jac[m:, :m] = ds_dva.imag[1:, 1:]
            jac[m:, m:] = ds_dvm.imag[1:, 1:]
            dx = np.linalg.solve(jac, -f)
            va[1:] += dx[:m]
            vm[1:] += dx[m:]
            v = vm * np.exp(1j * va)
            if not np.all(np.isfinite(v)):
                return None
        return None

    def _results(self, v: np.ndarray) -> GridState:
        i_from = self.y_from @ v
        i_to = self.y_to @ v
        s_from = v[self.branch_from] * np.conj(i_from) * self.base_mva
        s_to = v[self.branch_to] * np.conj(i_to) * self.base_mva
        i_from_ka = np.abs(i_from) * self.i_base_ka[self.branch_from]
        i_to_ka = np.abs(i_to) * self.i_base_ka[self.branch_to]
        lines, trafos = self.line_rows, self.trafo_rows
        line_loading = np.where(lines >= 0, np.maximum(i_from_ka[lines], i_to_ka[lines]) / self.line_i_max_ka * 100.0, 0.0)
        trafo_loading = np.where(trafos >= 0, np.maximum(i_from_ka[trafos] / self.trafo_i_rated_hv_ka,
                                                         i_to_ka[trafos] / self.trafo_i_rated_lv_ka) * 100.0, 0.0)
        s_slack = v[0] * np.conj(self.y_bus[0] @ v) * self.base_mva
        feeder_to = s_to[lines[0]] if lines[0] >= 0 else 0j
        return GridState(
            p_import_kw=-feeder_to.real * 1000.0,
            q_import_kvar=-feeder_to.imag * 1000.0,
            p_slack_kw=s_slack.real * 1000.0,
            v_pu=np.where(self.bus_rows >= 0, np.abs(v[self.bus_rows]), 0.0),
            line_loading_pct=line_loading,
            trafo_loading_pct=trafo_loading,
            losses_kw=float((s_from + s_to).real.sum()) * 1000.0,
        )

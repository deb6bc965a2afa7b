"""The twin: SimPy environment + device models + pandapower network; ``step(dt) -> Snapshot``.

No I/O, no wall clock, no logging in here: the runner decides pacing and where
snapshots and events go. A step advances SimPy to the step's end (arrivals, plug-ins,
departures and commands happen at their exact times), then integrates the devices over
the step, solves the power flow and returns a ``Snapshot`` of the step (read-only by contract).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count
from zoneinfo import ZoneInfo

import numpy as np

from twin.config.faults import Fault, check_fault
from twin.config.scenario import Scenario
from twin.model import kernels
from twin.model.averaging import PartMeans
from twin.model.clock import SiteEnvironment
from twin.model.commands import (
    Command,
    CommandSpec,
    command_specs,
    ev_p_max_kw,
    spec_of,
)
from twin.model.controllers.base import Measurements, SiteInfo, site_info
from twin.model.devices.bess import Battery
from twin.model.devices.charger import ChargingSlots, share
from twin.model.devices.load import BuildingLoads
from twin.model.devices.pv import PvPlant
from twin.model.devices.swap import SwapStationModel
from twin.model.events import EventLog
from twin.model.faults import FaultEffects
from twin.model.grid import Backend, Grid, injection_points
from twin.model.limits import LimitMonitor
from twin.model.thermal import ThermalProtection
from twin.model.sensors import Sensors
from twin.model.site_profiles import site_profiles
from twin.model.traffic import (
    ConnectorPool,
    ServiceTotals,
    arrivals,
    charging_visit,
    hourly_rates_per_s,
)

PROFILE_GRID_S = 60.0  # PV and load profiles are sampled each minute and read as interval means
LONG_STEP_S = 900.0  # from this step on, a 5-minute profile grid keeps a year's precompute to seconds
LONG_STEP_GRID_S = 300.0


def profile_grid_s(step_s: float) -> float:
    """Profile sampling for a run: each minute, or every 5 min for runs stepping 15 min or more."""
    return LONG_STEP_GRID_S if step_s >= LONG_STEP_S else PROFILE_GRID_S


# Charging is integrated in parts between the events inside a step (plug-ins, departures, a
# battery reaching its target, commands, faults), and in parts of at most this long: 15 min
# keeps a year at 1 h steps fast; against 5-min parts it changes unserved EV energy by < 0.1 point.
CHARGING_SUBSTEP_S = 900.0
MIN_PART_S = 1e-3  # shorter parts are merged into the next: a battery that fills in them stops at its target
ISLAND_LOSS_FRACTION = 0.04  # losses assumed when shedding for an island, before the power flow says


@dataclass(slots=True)
class Snapshot:
    """The site over one step ending at ``t_s``. Arrays follow the twin's name lists.

    Read-only by contract: every sink of a step gets the same object, and none writes to it.
    Not ``frozen``: a frozen dataclass sets each of its 41 fields through ``object.__setattr__``,
    which took ~10 µs of every 1 s step to build it (docs/speed.md); a plain one stores them directly.
    """

    t_s: float
    dt_s: float
    hour_local: float
    grid_p_kw: float
    grid_q_kvar: float
    slack_p_kw: float
    poc_v_pu: float
    losses_kw: float
    v_pu: np.ndarray
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    pv_available_kw: np.ndarray
    pv_p_kw: np.ndarray
    pv_limit_pct: np.ndarray
    bess_p_kw: float
    bess_p_set_kw: float
    bess_soc_pct: float
    bess_state: int
    charger_p_kw: np.ndarray
    charger_limit_kw: np.ndarray
    charger_connected: np.ndarray
    charger_ev_soc_pct: np.ndarray
    swap_p_kw: float
    swap_full_packs: int
    load_p_kw: float
    ev_p_kw: float  # chargers + swap station
    ev_cap_kw: float
    queue_len: np.ndarray  # per vehicle class, site order
    arrived: int
    served: int
    balked: int
    reneged: int
    delivered_kwh: float
    unserved_kwh: float
    contract_limit_kw: float
    tariff_cny_per_kwh: float
    load_shed_kw: float  # building load not supplied (outage, or an island the battery cannot carry)
    islanded: bool
    fault_count: int
    comms_lost: frozenset[str]  # Modbus devices whose unit does not answer (not recorded: not a number)
    measured: Measurements  # what a controller sees of this step: the truth through the sensor models


def group_sums_reference(group: np.ndarray, p_kw: np.ndarray, q_per_p: np.ndarray, p_out: np.ndarray,
                         q_out: np.ndarray) -> None:
    """Per group (``group[i]`` is member ``i``'s): the sum of the members' ``p_kw`` into ``p_out``
    and of their ``p_kw * q_per_p`` into ``q_out`` (``kernels.group_sums`` is the compiled one)."""
    p_out[:] = np.bincount(group, weights=p_kw, minlength=len(p_out))
    q_out[:] = np.bincount(group, weights=p_kw * q_per_p, minlength=len(q_out))


class Twin:
    def __init__(self, scenario: Scenario, backend: Backend = "newton") -> None:
        self.scenario = scenario
        site = self.site = scenario.site
        self.env = env = SiteEnvironment()
        self.log = EventLog(env)
        seeds = np.random.SeedSequence(scenario.seed).spawn(len(site.vehicles) + 1)
        grid_s = profile_grid_s(scenario.step_s)
        start = scenario.start.astimezone(ZoneInfo(site.location.timezone))
        self._start_hour = start.hour + start.minute / 60.0 + start.second / 3600.0
        self._tariff = np.asarray(site.tariff.hourly_cny_per_kwh)

        profiles = site_profiles(scenario, grid_s, seeds[-1])  # the spare seed (last) is the weather's
        self.pv = PvPlant(site.pv, profiles.pv_available_kw, grid_s)
        self.loads = BuildingLoads(site.loads, profiles.load_p_kw, grid_s)
        self.battery = Battery(site.bess) if site.bess else None
        self.totals = ServiceTotals()

        groups = site.chargers
        self.connector_group = np.repeat(np.arange(len(groups)), [g.count for g in groups]).astype(int)
        self.connector_names = site.connector_names
        spec = [groups[g] for g in self.connector_group]
        self.chargers = ChargingSlots(env, np.array([g.p_max_kw for g in spec]),
                                      np.array([g.efficiency_pct for g in spec]),
                                      np.array([g.ramp_kw_per_s for g in spec]))
        self._charger_q_per_p = np.array([math.tan(math.acos(g.power_factor)) for g in spec])
        self._swap_q_per_p = math.tan(math.acos(site.swap.power_factor)) if site.swap else 0.0
        self.swap = SwapStationModel(env, site.swap, self.totals, self.log) if site.swap else None

        self.pools = self._connector_pools()
        # where each vehicle class queues, in site order: the swap station or its connector pool
        self._queues = [self.swap if c.name == "swap_truck" else self.pools[c.name] for c in site.vehicles]
        ids = count(1)
        for cls, seed in zip(site.vehicles, seeds):
            rates = hourly_rates_per_s(cls, scenario.traffic.multiplier.get(cls.name, 1.0))
            env.process(arrivals(env, cls, rates, self._start_hour, np.random.default_rng(seed), ids,
                                 self._visit_for(cls.name)))

        self.ev_p_max_kw = ev_p_max_kw(site)
        self.ev_cap_kw = self.ev_p_max_kw
        self.command_specs = command_specs(site)
        self._requested: dict[tuple[str, str], float] = {}  # last value asked per (target, quantity)
        self._last_losses_kw = 0.0

        self.points = injection_points(site)
        self._point_ranges()
        self.grid = Grid(site, self.points, backend=backend)
        self.limits = LimitMonitor(site.limits, self.grid.bus_names, self.grid.line_names, self.grid.trafo_names,
                                   self.log)
        self.faults = FaultEffects(self)
        self.protection = (ThermalProtection(site.transformer_protection, self.grid.trafo_names, self.schedule_fault)
                           if site.transformer_protection.enabled else None)
        self.sensors = Sensors(scenario.sensors, scenario.seed, site)
        for fault in scenario.faults:
            self.schedule_fault(fault, "scenario")
        self._p_kw = np.zeros(len(self.points))
        self._q_kvar = np.zeros(len(self.points))
        # the charger groups' part of them, written in place each step
        self._group_p_kw, self._group_q_kvar = self._p_kw[self._group_points], self._q_kvar[self._group_points]
        self._group_sums = kernels.group_sums if kernels.COMPILED else group_sums_reference
        # load (or compile) the kernel now, not in the middle of the first step
        self._group_sums(self.connector_group, np.zeros(len(self.connector_group)), self._charger_q_per_p,
                         self._group_p_kw, self._group_q_kvar)
        self._poc_index = self.grid.bus_names.index(site.utility.connection_bus)

    # -- construction helpers ------------------------------------------------------------
    def _connector_pools(self) -> dict[str, ConnectorPool]:
        """One pool per set of classes that share connectors (site validation keeps sets disjoint)."""
        pools: dict[str, ConnectorPool] = {}
        by_serves: dict[tuple[str, ...], list[int]] = {}
        for slot, group in enumerate(self.connector_group):
            by_serves.setdefault(tuple(sorted(self.site.chargers[group].serves)), []).append(slot)
        for serves, members in by_serves.items():
            pool = ConnectorPool(self.env, self.chargers, members, self.connector_names)
            for cls in serves:
                pools[cls] = pool
        return pools

    def _visit_for(self, cls_name: str):
        env, log, totals = self.env, self.log, self.totals
        if cls_name == "swap_truck":
            return lambda vehicle: env.process(self.swap.visit(vehicle))
        pool = self.pools[cls_name]
        return lambda vehicle: env.process(charging_visit(env, vehicle, pool, totals, log))

    def _point_ranges(self) -> None:
        """Where each device's injection sits in the point list (see ``injection_points``)."""
        site = self.site
        n_pv, n_groups = len(site.pv), len(site.chargers)
        self._pv_points = slice(0, n_pv)
        self._bess_point = n_pv if site.bess else None
        first_group = n_pv + (1 if site.bess else 0)
        self._group_points = slice(first_group, first_group + n_groups)
        self._swap_point = first_group + n_groups if site.swap else None
        self._load_points = slice(first_group + n_groups + (1 if site.swap else 0), len(self.points))

    # -- faults ----------------------------------------------------------------------------
    def schedule_fault(self, fault: Fault, source: str = "gui") -> None:
        """Schedule a fault (at ``fault.start_s``, or now if that has passed). Call between steps."""
        check_fault(fault, self.site, None, "fault")
        self.env.process(self.faults.schedule(fault, source))

    def connector_slots(self, name: str) -> list[int]:
        """Slots of a connector (``car_dc_3``) or of a whole charger group (``car_dc``)."""
        if name in self.connector_names:
            return [self.connector_names.index(name)]
        group = [g.name for g in self.site.chargers].index(name)
        return [int(slot) for slot in np.flatnonzero(self.connector_group == group)]

    def set_connector_fault(self, slot: int, faulted: bool) -> None:
        self.chargers.faulted[slot] = faulted
        pool = next(p for p in self.pools.values() if slot in p.members)
        if faulted:
            pool.hold(slot)
        else:
            pool.restore(slot)

    @property
    def site_info(self) -> SiteInfo:
        return site_info(self.site)

    # -- commands ------------------------------------------------------------------------
    def apply(self, commands: Iterable[Command]) -> None:
        """Take commands; each takes effect after its device's command latency.

        A value beyond the target's range is clipped to it (a built-in controller may ask for
        more than a rating); protocol adapters refuse such writes before they get here."""
        for command in commands:
            spec = spec_of(command, self.command_specs)
            value = min(max(float(command.value), spec.low), spec.high)
            self._command(spec, value, command.source)

    def _command(self, spec: CommandSpec, value: float, source: str) -> None:
        key = (spec.target, spec.quantity)
        previous = self._requested.get(key)
        if previous == value:
            return
        self._requested[key] = value
        if previous is None or abs(value - previous) >= spec.log_step or (value == 0.0) != (previous == 0.0):
            self.log("setpoint", spec.target, -1, value, f"{spec.quantity} [{spec.unit}] by {source}")
        if spec.latency_s > 0:
            # the value lands when the latency's timeout fires: one event a command, where a process
            # waiting on the timeout took four (its start, the timeout, its resumption, its end)
            self.env.timeout(spec.latency_s).callbacks.append(lambda _timeout: self._set(spec, value))
        else:
            self._set(spec, value)

    def _set(self, spec: CommandSpec, value: float) -> None:
        if spec.kind == "bess":
            self.battery.set_p(value, self.env.now)
        elif spec.kind == "ev_cap":
            self.ev_cap_kw = value
        elif spec.kind == "pv":
            self.pv.p_limit_pct[spec.index] = value
        else:
            self.chargers.p_limit_kw[spec.index] = value

    # -- the step ------------------------------------------------------------------------
    def step(self, dt_s: float) -> Snapshot:
        t0 = self.env.now
        t1 = t0 + dt_s
        pv_available, pv_p = self.pv.powers(t0, t1)
        load_p, load_q = self.loads.powers(t0, t1)
        # Charging is integrated piecewise from event to event, so a vehicle charges exactly from
        # its plug-in to its departure and a full battery frees its connector when it fills, not
        # at the step's end (at 1 min steps that held every connector ~30 s too long; in one long
        # step a vehicle that came and went inside it charged nothing).
        parts = PartMeans()
        while self.env.now < t1:  # events due at t1 itself belong to the next step, as they always did
            self._process_due_events()
            parts.add(*self._charge(t1, pv_p, load_p, load_q))
        charger_p, swap_p, pv_p, load_p, load_q, load_shed_kw = parts.means()
        swap_p, load_shed_kw = float(swap_p), float(load_shed_kw)
        battery = self.battery
        bess_live = battery is not None and bool(self.grid.energized[self._bess_point])
        islanded = self.grid.islanded and bess_live
        bess_p = battery.advance(dt_s, t0) if bess_live and not islanded else 0.0
        if battery is not None and not bess_live:
            battery.p_kw = 0.0

        grid = self.grid.solve(*self._injections(pv_p, bess_p, charger_p, swap_p, load_p, load_q))
        self._last_losses_kw = grid.losses_kw
        self.limits.check(t1, grid.v_pu, grid.line_loading_pct, grid.trafo_loading_pct)
        if self.protection is not None:
            self.protection.check(t1, dt_s, grid.trafo_loading_pct)
        if islanded:
            bess_p = battery.follow(grid.p_slack_kw, dt_s)
        return self._snapshot(t0, dt_s, grid, pv_available, pv_p, bess_p, charger_p, swap_p, load_p,
                              load_shed_kw, islanded)

    def _process_due_events(self) -> None:
        """Run every SimPy event due now (including those that events due now trigger)."""
        env = self.env
        while env.peek() <= env.now:
            env.step()

    def _part_end_s(self, t1: float, to_target_s: float) -> float:
        """End of the next charging part: the step's end, the next SimPy event someone waits on, the longest part,
        or the moment the first battery would reach its target at the power it is granted now
        (``to_target_s`` from now: within the EV cap, before an island's shedding, which only
        lowers the power, so the part is never too long)."""
        now = self.env.now
        # the longest parts end on a fixed grid, so a long step is cut where shorter steps would end
        grid_end_s = (math.floor(now / CHARGING_SUBSTEP_S + 1e-9) + 1) * CHARGING_SUBSTEP_S
        end = min(t1, self.env.next_live_s(), grid_end_s, now + to_target_s)
        return min(t1, max(end, now + MIN_PART_S))

    def _charge(self, t1: float, pv_p: np.ndarray, load_p: np.ndarray, load_q: np.ndarray) -> tuple[float, tuple]:
        """Charge what is plugged in now until the next event (at most to ``t1``), within the EV
        cap and, on an island, within what the battery can carry (shedding EV charging first,
        then building load); then advance SimPy to the part's end.

        Returns the part's length and (charger_p, swap_p, pv_p, load_p, load_q, load_shed_kw) over it.
        """
        live = self.grid.energized
        cars_live = None
        load_shed_kw = 0.0
        if not self.grid.all_energized:  # an outage cuts some points off: they draw and give nothing
            pv_p = np.where(live[self._pv_points], pv_p, 0.0)
            load_live = live[self._load_points]
            load_shed_kw = float(load_p[~load_live].sum())
            load_p, load_q = np.where(load_live, load_p, 0.0), np.where(load_live, load_q, 0.0)
            cars_live = live[self._group_points][self.connector_group]
        swap_live = self.swap is not None and bool(live[self._swap_point])
        packs = self.swap.slots if swap_live else None
        total_wanted, scale, to_target_s = share(self.chargers, cars_live, packs, swap_live and self.swap.tripped,
                                                 self.ev_cap_kw)
        start_s = self.env.now
        end_s = self._part_end_s(t1, to_target_s)
        dt_s = end_s - start_s
        swap_aux_kw = self.site.swap.aux_kw if swap_live else 0.0
        battery = self.battery
        if self.grid.islanded and battery is not None and bool(live[self._bess_point]):
            p_ch, p_dis = battery.limits_kw(dt_s)
            ev_kw = total_wanted * scale
            # the battery also carries the network losses: take the last step's, with a floor
            losses_kw = max(self._last_losses_kw, ISLAND_LOSS_FRACTION * (load_p.sum() + ev_kw))
            surplus_kw = load_p.sum() + ev_kw + swap_aux_kw + losses_kw - pv_p.sum() - p_dis
            if surplus_kw > 0 and ev_kw > 0:
                scale *= max(0.0, ev_kw - surplus_kw) / ev_kw
                surplus_kw -= min(ev_kw, surplus_kw)
                self.chargers.regrant(scale)
                if swap_live:
                    packs.regrant(scale)
            if surplus_kw > 0 and load_p.sum() > 0:
                kept = max(0.0, 1.0 - surplus_kw / load_p.sum())
                load_shed_kw += float(load_p.sum() * (1.0 - kept))
                load_p, load_q = load_p * kept, load_q * kept
            excess_pv_kw = pv_p.sum() - (load_p.sum() + ev_kw * (scale > 0) + swap_aux_kw + p_ch)
            if excess_pv_kw > 0:  # nowhere to put it: curtail
                pv_p = pv_p * max(0.0, 1.0 - excess_pv_kw / pv_p.sum())

        # the clock first, so that a battery that fills in this part fires its event at the part's end
        self.env.run_before(end_s)
        # a copy: the slots' own array changes in place when a vehicle leaves in the next part
        charger_p = self.chargers.advance(dt_s).copy()
        if swap_live:
            packs.advance(dt_s)
            swap_p = packs.p_total_kw + swap_aux_kw
        else:
            swap_p = 0.0
        return dt_s, (charger_p, swap_p, pv_p, load_p, load_q, load_shed_kw)

    def _injections(self, pv_p, bess_p, charger_p, swap_p, load_p, load_q) -> tuple[np.ndarray, np.ndarray]:
        """Per injection point P and Q (consumption positive); the island's battery is the slack."""
        p, q = self._p_kw, self._q_kvar
        p[self._pv_points] = -pv_p
        if self._bess_point is not None:
            p[self._bess_point] = -bess_p
        self._group_sums(self.connector_group, charger_p, self._charger_q_per_p, self._group_p_kw, self._group_q_kvar)
        if self._swap_point is not None:
            p[self._swap_point] = swap_p
            q[self._swap_point] = swap_p * self._swap_q_per_p
        p[self._load_points] = load_p
        q[self._load_points] = load_q
        return p, q

    def _snapshot(self, t0, dt_s, grid, pv_available, pv_p, bess_p, charger_p, swap_p, load_p, load_shed_kw,
                  islanded) -> Snapshot:
        # the row is stamped at the step's end, and so is its clock; the price is the step's own (its start hour)
        hour = (self._start_hour + (t0 + dt_s) / 3600.0) % 24.0
        tariff = float(self._tariff[int((self._start_hour + t0 / 3600.0) % 24.0)])
        poc_v_pu = float(grid.v_pu[self._poc_index])
        battery = self.battery
        ev_p_kw = float(charger_p.sum()) + swap_p
        measured = self.sensors.measure(Measurements(
            t_s=t0 + dt_s, hour_local=hour, grid_p_kw=grid.p_import_kw, grid_q_kvar=grid.q_import_kvar,
            poc_v_pu=poc_v_pu, pv_p_kw=float(pv_p.sum()), pv_available_kw=float(pv_available.sum()),
            bess_p_kw=bess_p, bess_soc_pct=battery.soc_pct if battery else 0.0,
            ev_p_kw=ev_p_kw, ev_cap_kw=self.ev_cap_kw, tariff_cny_per_kwh=tariff),
            self.faults.comms_lost, {"pv_p_kw": pv_p, "pv_available_kw": pv_available, "charger_p_kw": charger_p,
                                     "charger_ev_soc_pct": self.chargers.soc_pct, "swap_p_kw": swap_p})
        totals = self.totals
        queues = np.array([queue.queue_len for queue in self._queues])
        return Snapshot(
            t_s=t0 + dt_s, dt_s=dt_s, hour_local=hour,
            grid_p_kw=grid.p_import_kw, grid_q_kvar=grid.q_import_kvar,
            slack_p_kw=0.0 if self.grid.islanded else grid.p_slack_kw,
            poc_v_pu=poc_v_pu, losses_kw=grid.losses_kw, v_pu=grid.v_pu,
            line_loading_pct=grid.line_loading_pct, trafo_loading_pct=grid.trafo_loading_pct,
            pv_available_kw=pv_available, pv_p_kw=pv_p, pv_limit_pct=self.pv.p_limit_pct.copy(),
            bess_p_kw=bess_p, bess_p_set_kw=battery.p_set_kw if battery else 0.0,
            bess_soc_pct=battery.soc_pct if battery else 0.0, bess_state=int(battery.state) if battery else 0,
            charger_p_kw=charger_p, charger_limit_kw=self.chargers.p_limit_kw.copy(),  # charger_p: the step's own
            charger_connected=self.chargers.occupied.copy(), charger_ev_soc_pct=self.chargers.soc_pct.copy(),
            swap_p_kw=swap_p, swap_full_packs=self.swap.full_pack_count if self.swap else 0,
            load_p_kw=float(load_p.sum()), ev_p_kw=ev_p_kw, ev_cap_kw=self.ev_cap_kw,
            queue_len=queues, arrived=totals.arrived, served=totals.served, balked=totals.balked,
            reneged=totals.reneged, delivered_kwh=totals.delivered_kwh, unserved_kwh=totals.unserved_kwh,
            contract_limit_kw=self.site.utility.contract_limit_kw,
            tariff_cny_per_kwh=tariff,
            load_shed_kw=load_shed_kw, islanded=islanded, fault_count=self.faults.count,
            comms_lost=self.faults.comms_lost, measured=measured,
        )

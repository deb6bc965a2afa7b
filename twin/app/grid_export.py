"""One recorded step as a pandapower network: ``satwin grid --from RESULTS --at 18:00 --export net.json``.

The network is rebuilt from the site that ran (``resolved.json``), with that step's
injections (the recorded PV, battery, connector, swap and building powers) and its switch
states (the outages and the islanding active then, from the recorded fault events), so
``pandapower.runpp`` on the file gives the bus voltages the run recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from twin.config.errors import ScenarioError
from twin.config.faults import Fault
from twin.config.scenario import Scenario
from twin.config.units import parse_offset_s
from twin.model.core import Twin
from twin.results.reader import Results

STEP_COLUMNS = ("dt_s", "pv_p_kw.", "bess_p_kw", "charger_p_kw.", "swap_p_kw", "load_p_kw", "islanded", "v_pu.")


@dataclass
class RecordedStep:
    twin: Twin  # its grid holds the step's switch states and injections
    t_s: float
    p_kw: np.ndarray
    q_kvar: np.ndarray
    recorded_v_pu: np.ndarray  # in ``twin.grid.bus_names`` order


def offset_of(at: str, scenario: Scenario) -> float:
    """Seconds after the start: ``HH:MM`` is the first time the site's clock shows it; else a span (``18h``)."""
    if ":" in at:
        try:
            clock = dt.time.fromisoformat(at)
        except ValueError:
            raise ScenarioError(None, "--at", f"'{at}' is not a time of day (HH:MM) or a span (18h)") from None
        start = scenario.start.astimezone(ZoneInfo(scenario.site.location.timezone))
        moment = start.replace(hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0)
        if moment < start:
            moment += dt.timedelta(days=1)
        return (moment - start).total_seconds()
    try:
        return parse_offset_s(at)
    except ValueError as exc:
        raise ScenarioError(None, "--at", str(exc)) from None


def _active_faults(results: Results, scenario: Scenario, t1_s: float) -> list[Fault]:
    """Faults switched on before ``t1_s`` and not cleared before it (events at ``t1_s`` belong to the next step)."""
    events = results.events.to_pylist()
    active: dict[tuple[str, str], float] = {}
    for event in events:
        if event["t_s"] >= t1_s or event["kind"] not in ("fault", "fault_cleared"):
            continue
        kind = event["detail"].split(" ", 1)[0]
        key = (kind, "" if event["device"] == "site" and kind in ("utility_outage", "voltage_sag") else event["device"])
        if event["kind"] == "fault":
            active[key] = event["t_s"]
        else:
            active.pop(key, None)
    faults = []
    for (kind, device), start_s in active.items():  # the scenario's own fault carries sag_pu, derate_pct
        same = [f for f in scenario.faults if f.kind == kind and f.device == device and abs(f.start_s - start_s) < 1e-6]
        faults.append(same[0] if same else Fault(kind=kind, device=device, start_s=start_s, duration_s=1.0))
    return faults


def recorded_step(results_dir: Path, at: str) -> RecordedStep:
    results = Results(results_dir)
    if not results.resolved:
        raise ScenarioError(results_dir, None, "not a results folder (no resolved.json)")
    scenario = Scenario.model_validate(results.resolved)
    offset_s = offset_of(at, scenario)
    times = results.timeseries(("t_s",)).column("t_s").to_numpy()
    rows = np.flatnonzero(times >= offset_s - 1e-9)
    if not rows.size:
        raise ScenarioError(None, "--at", f"{at} is after the recorded run (it ends {times[-1] / 3600:g} h in)"
                            if times.size else "the run recorded no steps")
    row = int(rows[0])
    ts = results.timeseries(STEP_COLUMNS).slice(row, 1).to_pylist()[0]
    t1_s, dt_s = ts["t_s"], ts["dt_s"]

    twin = Twin(scenario, backend="pandapower")
    for fault in _active_faults(results, scenario, t1_s):
        twin.faults.switch(fault, True)
    names = {"pv": twin.pv.names, "charger": twin.connector_names}
    pv_p = np.array([ts[f"pv_p_kw.{n}"] for n in names["pv"]])
    charger_p = np.array([ts[f"charger_p_kw.{n}"] for n in names["charger"]])
    # the recording keeps the building total; each load's share is its own profile over the step
    load_p, load_q = twin.loads.powers(t1_s - dt_s, t1_s)
    load_live = twin.grid.energized[twin._load_points]
    load_p, load_q = np.where(load_live, load_p, 0.0), np.where(load_live, load_q, 0.0)
    share = ts["load_p_kw"] / load_p.sum() if load_p.sum() > 0 else 0.0
    bess_p = 0.0 if ts["islanded"] else ts["bess_p_kw"]  # on an island the battery is the slack, not an injection
    p, q = twin._injections(pv_p, bess_p, charger_p, ts["swap_p_kw"], load_p * share, load_q * share)
    recorded_v = np.array([ts[f"v_pu.{n}"] for n in twin.grid.bus_names])
    return RecordedStep(twin, t1_s, p.copy(), q.copy(), recorded_v)

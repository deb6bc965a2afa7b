"""``satwin replay-controller RESULTS_DIR``: a recorded controller's writes against a changed twin.

Regression without the box: the audit of a served run (``modbus_audit.jsonl``) holds every
accepted write with the simulated time it arrived at. This replays them, at those times and
through the same datastore (validation, latency, ramps, watchdog), against the run's own
scenario (``resolved.json``) or a changed one: another site file, seed or scenario file
(another fault). Heartbeat runs summarised in the audit are replayed as one heartbeat per
step, so the watchdog trips where it tripped. The replay is a normal results folder; the
KPIs and verdicts are set beside the original run's.

Exact for a lockstep run (every write of a step arrives before the next step starts); for
a paced run a write that arrived while a step was being computed is replayed one step
early. The controller does not see the changed twin, of course: this is what the same
commands do to another site, not what the controller would have done there.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.datastore.audit import read_audit
from hil.datastore.bridge import Bridge
from hil.maps.registers import build_register_map
from hil.serve import AUDIT_FILE
from twin.config.errors import ScenarioError
from twin.config.scenario import Scenario
from twin.model.core import Twin
from twin.results.verdicts import Verdict
from twin.run.session import Session

REPLAY_FILE = "replay.json"
NOT_REPLAYED = ("controller healthy: ran", "controller_kept_up")

Write = tuple[str, int, int, int, list[int]]  # client, function, unit, address, registers


@dataclass
class ReplayResult:
    out_dir: Path
    kpis: dict[str, Any]
    verdicts: list[Verdict]
    original_kpis: dict[str, Any]
    original_verdicts: list[dict[str, Any]]
    writes: int = 0
    refused: list[str] = field(default_factory=list)  # writes the changed twin does not accept

    def changed_kpis(self) -> list[tuple[str, Any, Any]]:
        keys = [k for k in self.original_kpis if isinstance(self.original_kpis[k], (int, float))]
        return [(k, self.original_kpis[k], self.kpis.get(k)) for k in keys if self.kpis.get(k) != self.original_kpis[k]]

    def changed_verdicts(self) -> list[tuple[str, bool | None, bool | None]]:
        before = {v["criterion"]: v["passed"] for v in self.original_verdicts}
        after = {v.criterion: v.passed for v in self.verdicts}
        return [(c, before.get(c), after.get(c)) for c in dict.fromkeys([*before, *after]) if before.get(c) != after.get(c)]


def original_scenario(results_dir: Path) -> Scenario:
    resolved = Path(results_dir) / "resolved.json"
    if not resolved.exists():
        raise ScenarioError(resolved, None, "not a results folder of satwin (no resolved.json)")
    return Scenario.model_validate_json(resolved.read_text())


def recorded_writes(results_dir: Path, step_s: float) -> dict[float, list[Write]]:
    """Accepted writes by the simulated time they arrived at; heartbeat runs expanded, one per step."""
    path = Path(results_dir) / AUDIT_FILE
    if not path.exists():
        raise ScenarioError(path, None, "no audit of controller traffic: replay needs a run of satwin serve/test")
    writes: dict[float, list[Write]] = defaultdict(list)
    for line in read_audit(path):
        if line.get("kind") == "heartbeats":
            n = int(round((line["last_sim_t_s"] - line["first_sim_t_s"]) / step_s)) + 1
            for i in range(n):
                writes[round(line["first_sim_t_s"] + i * step_s, 6)].append(
                    (line["client"], 16, line["unit_id"], line["address"], [1]))
        elif line.get("result") == "ok" and line.get("values") and "kind" not in line:
            writes[round(line["sim_t_s"], 6)].append(
                (line["client"], line.get("function", 16), line["unit_id"], line["address"], line["values"]))
    return writes


class _Injector:
    """A sink after the bridge: hands it the writes that arrived after this step."""

    def __init__(self, bridge: Bridge, writes: dict[float, list[Write]], refused: list[str]) -> None:
        self.bridge, self.writes, self.refused = bridge, writes, refused

    def inject(self, t_s: float) -> None:
        for client, function, unit, address, values in self.writes.get(round(t_s, 6), ()):
            if unit not in self.bridge.units:
                self.refused.append(f"t={t_s:g} s unit {unit}: no such device")
                continue
            code = self.bridge.write(unit, address, values, client, function)
            if code:
                self.refused.append(f"t={t_s:g} s unit {unit} address {address}: exception {code:02d}")

    def on_snapshot(self, snap) -> None:
        self.inject(snap.t_s)

    def on_events(self, events) -> None:
        pass


def replay_controller(results_dir: Path, out_dir: Path, changed: Scenario | None = None) -> ReplayResult:
    """Replay ``results_dir``'s writes against ``changed`` (default: the run's own scenario)."""
    results_dir = Path(results_dir)
    original = original_scenario(results_dir)
    scenario = changed or original
    meta = json.loads((results_dir / "run.json").read_text())
    twin = Twin(scenario)
    bridge = Bridge(twin, build_register_map(twin))
    bridge.heartbeat_timeout_s = float(meta.get("heartbeat_timeout_s", bridge.heartbeat_timeout_s))
    writes = recorded_writes(results_dir, original.step_s)
    refused: list[str] = []
    injector = _Injector(bridge, writes, refused)
    meta = {"replay_of": str(results_dir.resolve()), "heartbeat_timeout_s": bridge.heartbeat_timeout_s}
    with Session(twin, Path(out_dir), "replay", meta) as session:
        session.more_verdicts = lambda: bridge.health.verdicts(twin.env.now)
        injector.inject(0.0)  # written before the first step
        session.run(bridge, [bridge, injector])
    kpis, verdicts = session.result.kpis, session.result.verdicts
    original_kpis = json.loads((results_dir / "kpi.json").read_text())
    original_verdicts = json.loads((results_dir / "verdicts.json").read_text())
    # the controller's process and its lockstep pace have no counterpart in a replay
    original_verdicts = [v for v in original_verdicts if not v["criterion"].startswith(NOT_REPLAYED)]
    result = ReplayResult(Path(out_dir), kpis, verdicts, original_kpis, original_verdicts,
                          sum(len(w) for w in writes.values()), refused)
    (Path(out_dir) / REPLAY_FILE).write_text(json.dumps(
        {"replay_of": str(results_dir), "writes": result.writes, "refused": refused,
         "changed_kpis": result.changed_kpis(), "changed_verdicts": result.changed_verdicts()}, indent=1))
    return result

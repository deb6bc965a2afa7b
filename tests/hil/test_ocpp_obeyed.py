"""The "charging profiles obeyed" verdict against the twin itself: a lower limit that takes effect
inside a step (5 s steps, 1 s latency) is obeyed, and a limit the charger did not get is caught."""

from __future__ import annotations

import numpy as np
from hil_rig import evening_scenario

from hil.ocpp.obeyed import TOLERANCE_KW, mean_limit_kw, profile_obeyed
from twin.model.commands import Command
from twin.model.core import Twin
from twin.results.reader import read_timeseries
from twin.run.loop import run_loop
from twin.run.recorder import Recorder

STEP_S = 5.0
COMMAND_AT_S = 600.0


def test_mean_limit_weights_the_limits_in_force_over_each_step():
    in_force_s, limits_kw = np.array([601.0, 700.0]), np.array([342.857, 500.0])
    mean = mean_limit_kw(in_force_s, limits_kw, np.array([0.0, 600.0, 605.0, 698.0]),
                         np.array([5.0, 605.0, 610.0, 703.0]), 600.0)
    assert np.allclose(mean, [600.0, (600.0 + 4 * 342.857) / 5, 342.857, (2 * 342.857 + 3 * 500.0) / 5])


def halved_at(t_s: float, names: list[str], commanded: dict[str, list[tuple[float, float]]]):
    """A setpoint source that halves every charging connector's limit once, at ``t_s`` (as a station would)."""

    def decide(snap):
        if snap is None or snap.t_s != t_s:
            return None
        commands = []
        for name, p_kw in zip(names, snap.charger_p_kw):
            if p_kw > 20.0:
                commanded.setdefault(name, []).append((snap.t_s, p_kw / 2))
                commands.append(Command(name, "p_limit_kw", p_kw / 2, "ocpp test", snap.t_s))
        return commands

    return decide


def test_a_limit_lowered_inside_a_step_is_obeyed_and_a_limit_not_applied_is_caught(tmp_path):
    scenario = evening_scenario(900.0, step_s=STEP_S)
    twin = Twin(scenario)
    latency_s = {g.name: g.command_latency_s for g in scenario.site.chargers}
    assert 0 < latency_s["car_dc"] < STEP_S, "the limit must land inside a step"
    commanded: dict[str, list[tuple[float, float]]] = {}
    recorder = Recorder(tmp_path, twin, {"controller": "test"})
    run_loop(twin, halved_at(COMMAND_AT_S, twin.connector_names, commanded), [recorder])
    recorder.close()
    assert len(commanded) >= 3, "vehicles were charging when the limit came"

    verdict = profile_obeyed(tmp_path, scenario.site, commanded)
    assert verdict.passed and verdict.measured <= TOLERANCE_KW, verdict

    # the step in which the limits took effect drew more than the new limit: the old one held for the latency
    table = read_timeseries(tmp_path)
    row = int(np.flatnonzero(np.asarray(table["t_s"]) == COMMAND_AT_S + STEP_S)[0])
    over = [name for name, [(_, limit_kw)] in commanded.items()
            if float(table[f"charger_p_kw.{name}"][row].as_py()) > limit_kw + 1.0]
    assert over, "a step straddling the latency mixes the old and the new limit"

    # a station that believes it commanded less than the charger got: the verdict fails with the excess
    name, [(t_s, limit_kw)] = next(iter(commanded.items()))
    wrong = {**commanded, name: [(t_s, limit_kw / 2)]}
    failed = profile_obeyed(tmp_path, scenario.site, wrong)
    assert not failed.passed and failed.measured > 1.0

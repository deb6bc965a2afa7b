"""The one run lifecycle: however a run ends, its folder is finished and run.json says how."""

from __future__ import annotations

import json
import threading

import pytest

from twin.config.errors import SimulationError
from twin.model.controllers import make_controller
from twin.run.loop import RunStats, Stop, builtin_control
from twin.run.session import Ending, Session, ending_of


def _short(holiday):
    return holiday.with_options(step_s=60.0, duration_s=2 * 3600.0)


def _meta(folder):
    return json.loads((folder / "run.json").read_text())


def test_ending_of_is_the_one_mapping():
    done, cut = RunStats(steps=5), RunStats(steps=2, interrupted=True)
    assert ending_of(None, done, None) == Ending("completed")
    assert ending_of(None, cut, threading.Event()) == Ending("interrupted", "stop requested")
    stop = Stop()
    stop.request("controller silent", failed=True)
    stop.request("later reason")  # the first reason wins
    assert ending_of(None, cut, stop) == Ending("failed", "controller silent")
    assert ending_of(KeyboardInterrupt(), cut, None) == Ending("interrupted", "Ctrl-C")
    assert ending_of(SimulationError("power flow diverged"), cut, None) == Ending("failed", "power flow diverged")
    assert ending_of(ZeroDivisionError("oops"), cut, None) == Ending("failed", "ZeroDivisionError: oops")


def test_a_completed_session_finishes_its_folder(holiday, tmp_path):
    scenario = _short(holiday)
    with Session.start(scenario, tmp_path / "run", "peak-shaving") as session:
        session.run(builtin_control(make_controller("peak-shaving", session.twin.site_info)))
    result = session.result
    meta = _meta(result.out_dir)
    assert result.status == meta["status"] == "completed" and "reason" not in meta
    assert meta["steps"] == meta["steps_recorded"] == scenario.n_steps == result.stats.steps
    assert result.kpis["steps"] == scenario.n_steps and (result.out_dir / "report.md").exists()


@pytest.mark.parametrize("raised, status, reason, propagates", [
    (SimulationError("power flow diverged"), "failed", "power flow diverged", False),
    (KeyboardInterrupt(), "interrupted", "Ctrl-C", False),
    (ZeroDivisionError("a bug"), "failed", "ZeroDivisionError: a bug", True),
])
def test_whatever_ends_the_loop_the_folder_is_finished(holiday, tmp_path, raised, status, reason, propagates):
    calls = []

    def control(snap):
        calls.append(snap)
        if len(calls) == 30:
            raise raised
        return None

    session = Session.start(_short(holiday), tmp_path / "run", "none")
    try:
        with session:
            session.run(control)
    except ZeroDivisionError:
        assert propagates
    else:
        assert not propagates
    meta = _meta(tmp_path / "run")
    assert (meta["status"], meta["reason"]) == (status, reason) == (session.result.status, session.result.reason)
    assert meta["steps"] == meta["steps_recorded"] == 29  # how far it got, not zero
    assert session.result.kpis["steps"] == 29
    verdicts = json.loads((tmp_path / "run" / "verdicts.json").read_text())
    assert any(not v["passed"] and reason in v["criterion"] for v in verdicts)


def test_a_stop_request_with_a_failure_reason_fails_the_run(holiday, tmp_path):
    stop = Stop()

    def control(snap):
        if snap is not None and snap.t_s >= 1800:
            stop.request("external controller exited with code 3", failed=True)

    with Session.start(_short(holiday), tmp_path / "run", "external", stop=stop) as session:
        session.run(control)
    meta = _meta(tmp_path / "run")
    assert meta["status"] == "failed" and meta["reason"] == "external controller exited with code 3"
    assert session.result.error == meta["reason"] and not session.result.passed
    assert meta["steps"] == 31  # the request came during step 31 (it saw t = 1800 s); the loop stops before 32

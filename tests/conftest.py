from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FREIGHT_SITE = SCENARIOS / "sites" / "freight-corridor.toml"
PASSENGER_SITE = SCENARIOS / "sites" / "passenger-xianshan.toml"
HOLIDAY = SCENARIOS / "holiday-peak-freight.toml"


@pytest.fixture(scope="session")
def holiday():
    return load_scenario(HOLIDAY)


def run_twin(scenario, controller: str | None = None, steps: int | None = None, faults=(), events: list | None = None):
    """Step a twin with a built-in controller (and extra faults); returns (twin, snapshots).

    The step's events go to the sinks (as in every run); pass ``events`` to keep them.
    """
    from twin.model.controllers import make_controller
    from twin.model.core import Twin
    from twin.run.loop import Collector, Stepper, builtin_control

    if faults:
        scenario = scenario.model_copy(update={"faults": scenario.faults + tuple(faults)})
    twin = Twin(scenario)
    kept = Collector()
    stepper = Stepper(twin, builtin_control(make_controller(controller or scenario.controller, twin.site_info)), [kept])
    for _ in range(steps or scenario.n_steps):
        stepper.step()
    if events is not None:
        events.extend(kept.events)
    return twin, kept.snapshots

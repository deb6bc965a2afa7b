"""The baseline of a year run: the same scenario on the site without PV and storage, run in a
second process beside the main run (see ``twin.results.published`` for how it is used).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.config.errors import ScenarioError
from twin.config.faults import check_fault
from twin.config.scenario import Scenario
from twin.config.sensors import check_sensors


def baseline_scenario(scenario: Scenario) -> Scenario:
    """The same scenario on the site without PV and storage (same seed: same traffic).

    Faults and sensor models on the PV arrays or the battery have nothing to act on there
    and are left out; the others (a feeder outage, a meter delay) stay.
    """
    site = scenario.site.model_copy(update={"pv": (), "bess": None})
    faults = tuple(f for f in scenario.faults if _still_valid(lambda: check_fault(f, site, None, "fault")))
    sensors = tuple(m for m in scenario.sensors if _still_valid(lambda: check_sensors((m,), site, None)))
    return scenario.model_copy(update={"site": site, "name": f"{scenario.name}-baseline", "compare": None,
                                       "faults": faults, "sensors": sensors})


def _still_valid(check) -> bool:
    try:
        check()
    except ScenarioError:
        return False
    return True


class Baseline:
    """The no-PV/no-storage run, started before the main run and collected after it.

    It runs in a second process when it can (the two runs share nothing), and in this
    process, after the main run, where child processes are not allowed (inside a suite's
    worker pool).
    """

    def __init__(self, scenario: Scenario, out_dir: Path, run_kpis: Callable[[Scenario, Path, str], dict[str, Any]],
                 backend: str = "newton"):
        # run_kpis(baseline scenario, its folder, backend) is handed in (a module-level function, so it
        # crosses to the spawned process): the run lifecycle uses this module, not the other way round
        self._run_kpis = run_kpis
        self.args = (baseline_scenario(scenario), Path(out_dir) / "baseline", backend)
        self._pool = None
        self._pending = None
        if not multiprocessing.current_process().daemon:
            self._pool = multiprocessing.get_context("spawn").Pool(1)
            self._pending = self._pool.apply_async(run_kpis, self.args)

    def kpis(self) -> dict[str, Any]:
        if self._pending is None:
            return self._run_kpis(*self.args)
        try:
            return self._pending.get()
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the baseline process (the main run ended early or has been collected)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

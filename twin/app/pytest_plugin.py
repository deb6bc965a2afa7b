"""``pytest scenarios/``: each scenario file with ``criteria`` is a test item.

Registered through the ``pytest11`` entry point, so CI can run the acceptance suite with
the tools it already has (``--junitxml``, ``-k``, ``-x``). Results go to ``results/pytest/``
(``--satwin-out`` to change it); ``--satwin-controller`` and ``--satwin-step`` override every
scenario. Only ``.toml`` files that are scenarios with criteria are collected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.errors import ScenarioError
from twin.config.files import read_toml


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("satwin")
    group.addoption("--satwin-out", default="results/pytest", help="folder for the scenario runs")
    group.addoption("--satwin-controller", default=None, help="override each scenario's controller")
    group.addoption("--satwin-step", default=None, help="override each scenario's step, e.g. 1min")


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    if file_path.suffix == ".toml" and file_path.parent.name != "sites":
        try:
            if "criteria" in read_toml(file_path) and "site" in read_toml(file_path):
                return ScenarioFile.from_parent(parent, path=file_path)
        except ScenarioError:
            return ScenarioFile.from_parent(parent, path=file_path)  # the item reports the mistake
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    pass


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from twin.app.cli import span_option
        from twin.config.scenario import load_scenario
        from twin.run.session import run_scenario

        config = self.config
        scenario = load_scenario(self.path).with_options(
            controller=config.getoption("--satwin-controller"),
            step_s=span_option(config.getoption("--satwin-step"), "--satwin-step"))
        out_dir = Path(config.getoption("--satwin-out")) / self.path.stem
        result = run_scenario(scenario, out_dir)
        self.user_properties.append(("results", str(out_dir)))
        if not result.passed:
            failed = [f"{v.criterion} (measured {v.measured:.4g})" for v in result.verdicts if not v.passed]
            raise ScenarioFailed(f"{scenario.name} [{result.status}]: " + "; ".join(failed or [result.error or ""]))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"scenario {self.name}"

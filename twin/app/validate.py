"""What ``satwin validate`` checks of a file: every kind satwin reads, or a clear refusal.

A file that is empty or of no known kind is a mistake (it used to pass as "not checked",
so a truncated scenario went unnoticed in CI).
"""

from __future__ import annotations

from pathlib import Path

from twin.config.errors import ScenarioError
from twin.config.files import read_toml
from twin.config.scenario import Scenario, load_scenario, scenario_file
from twin.config.site import Site, load_site


def check_file(path: Path) -> tuple[str, Scenario | Site | None]:
    """Validate one site, scenario or published-figures file; return its kind and what was loaded
    (None for published figures), or raise ``ScenarioError``."""
    from twin.results.published import figures_of, is_published_file, published_figures

    path = scenario_file(path)  # a built-in scenario may be named without a path
    data = read_toml(path, non_empty=True)
    if "site" in data:
        scenario = load_scenario(path)
        if scenario.compare is not None:
            published_figures(scenario)
        return "scenario", scenario
    if "buses" in data:
        return "site", load_site(path)
    if "scenarios" in data:
        from twin.app.sweep.expand import expand
        from twin.config.sweep import load_sweep

        return f"sweep of {len(expand(load_sweep(path)))} runs", None  # every point checked
    if is_published_file(data):
        for key in data:
            figures_of(data, key, path)
        return "published figures", None
    raise ScenarioError(path, None, "neither a scenario (it has no 'site = ...'), a site (no [[buses]]) nor "
                        "published figures (no [[KEY.figures]]); see docs/scenarios.md")

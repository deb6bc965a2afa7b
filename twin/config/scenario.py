"""Scenario file schema: which site, when, how long, what traffic and weather.

A scenario names its site file (relative to the scenario file) and its calendar start, so
PV and the tariff know the hour. ``load_scenario`` returns a frozen ``Scenario`` with the
site already validated; command-line options override fields through ``with_options``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from twin.config.criteria import parse_criterion
import scenarios
from twin.config.errors import ScenarioError
from twin.config.faults import Fault, check_fault
from twin.config.files import FrozenModel, read_toml, validate
from twin.config.overrides import COMMAND_LINE, Origin, Overrides, apply, attributed, split
from twin.config.quantities import Name
from twin.config.sensors import SensorModel, check_sensors
from twin.config.site import Site, VehicleClassName, load_site
from twin.config.units import parse_duration_s, parse_offset_s

CONTROLLERS = ("none", "peak-shaving")
MIN_STEP_S = 0.1  # below this the power flow, not the physics, decides the run time
MAX_STEP_S = 3600.0  # the tariff and the traffic profiles are hourly
MAX_STEPS = 100_000_000  # ~3 years at 1 s: beyond it, split the run or take a longer step
FIRST_YEAR, LAST_YEAR = 1900, 2200  # the calendar the solar position and tariff hours are computed for


class Traffic(FrozenModel):
    """Changes to the site's ordinary-day traffic: a holiday multiplies the arrivals."""

    multiplier: dict[VehicleClassName, Annotated[float, Field(ge=0, le=50)]] = {}


class CloudEvent(FrozenModel):
    start_s: float
    duration_s: float
    attenuation_pct: Annotated[float, Field(ge=0, le=100)]

    @field_validator("start_s", "duration_s", mode="before")
    @classmethod
    def _span(cls, value: object) -> float:
        return parse_offset_s(value)  # type: ignore[arg-type]


class Weather(FrozenModel):
    """``clear-sky`` is every day cloudless; ``climate`` draws days from the site's ``[climate]`` normals.

    Cloud events attenuate either.
    """

    model: Literal["clear-sky", "climate"] = "clear-sky"
    clouds: tuple[CloudEvent, ...] = ()


class Compare(FrozenModel):
    """Which published figures a run is set beside (``twin.compare``)."""

    published: str = "published.toml"  # relative to the scenario file
    key: str


class ScenarioFile(FrozenModel):
    name: Name
    description: str = ""
    site: str
    start: dt.datetime
    duration_s: float = Field(alias="duration")
    step_s: float = Field(alias="step", default=1.0)
    seed: Annotated[int, Field(ge=0)] = 0
    controller: str = "peak-shaving"
    traffic: Traffic = Traffic()
    weather: Weather = Weather()
    compare: Compare | None = None
    faults: tuple[Fault, ...] = ()
    sensors: tuple[SensorModel, ...] = ()
    criteria: tuple[str, ...] = ()

    @field_validator("duration_s", "step_s", mode="before")
    @classmethod
    def _span(cls, value: object) -> float:
        return parse_duration_s(value)  # type: ignore[arg-type]

    @field_validator("start")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-10-01T00:00:00+08:00")
        if not FIRST_YEAR <= value.year < LAST_YEAR:
            raise ValueError(f"start must lie in the years {FIRST_YEAR}-{LAST_YEAR - 1}")
        return value

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_criterion(text)
        return value

    @field_validator("controller")
    @classmethod
    def _known_controller(cls, value: str) -> str:
        if value not in CONTROLLERS:
            raise ValueError(f"unknown controller '{value}' (choose from {', '.join(CONTROLLERS)})")
        return value


class Scenario(FrozenModel):
    """A validated scenario with its site resolved; what a run needs and records."""

    name: str
    description: str
    path: Path | None
    site_path: Path | None
    site: Site
    start: dt.datetime
    duration_s: float
    step_s: float
    seed: int
    controller: str
    traffic: Traffic
    weather: Weather
    compare: Compare | None = None
    faults: tuple[Fault, ...] = ()
    sensors: tuple[SensorModel, ...] = ()
    criteria: tuple[str, ...] = ()

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_s / self.step_s))

    def with_options(self, **changes: object) -> Scenario:
        """A copy with command-line overrides (``None`` keeps the file's value), re-checked."""
        changes = {key: value for key, value in changes.items() if value is not None}
        if "controller" in changes and changes["controller"] not in CONTROLLERS:
            raise ScenarioError(None, "--controller", f"unknown controller '{changes['controller']}' "
                                f"(choose from {', '.join(CONTROLLERS)})")
        if "site_path" in changes:
            changes["site"] = load_site(changes["site_path"])
        updated = self.model_copy(update=changes)
        _check_step(updated, "--step")
        return updated


def _check_step(scenario: Scenario, field: str) -> None:
    if scenario.step_s < MIN_STEP_S:
        raise ScenarioError(scenario.path, field, f"step must be at least {MIN_STEP_S:g} s")
    if scenario.duration_s / scenario.step_s > MAX_STEPS:
        raise ScenarioError(scenario.path, field, f"{scenario.duration_s / scenario.step_s:.3g} steps is more than "
                            f"{MAX_STEPS:,}: take a longer step or a shorter duration")
    if scenario.step_s > scenario.duration_s:
        raise ScenarioError(scenario.path, field, f"step ({scenario.step_s:g} s) is longer than the duration "
                            f"({scenario.duration_s:g} s)")
    if scenario.step_s > MAX_STEP_S:
        raise ScenarioError(scenario.path, field, f"step must be at most {MAX_STEP_S / 3600:g}h")
    if scenario.weather.model == "climate" and scenario.site.climate is None:
        raise ScenarioError(scenario.path, "weather.model", f"the climate model needs a [climate] table in the "
                            f"site file of '{scenario.site.name}'")
    for i, fault in enumerate(scenario.faults):
        check_fault(fault, scenario.site, scenario.path, f"faults[{i}]")
    check_sensors(scenario.sensors, scenario.site, scenario.path)


def scenario_file(path: str | Path) -> Path:
    """``path`` itself, or, when no such file exists and it is a bare name, the built-in scenario
    of that name (``holiday-peak-freight``); an unknown name lists the built-in ones."""
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    found = scenarios.builtin(path.name)
    if found is None:
        raise ScenarioError(path, None, f"file not found, and no built-in scenario has that name "
                            f"(built-in: {', '.join(scenarios.builtin_names())})")
    return found


def load_scenario(path: str | Path, overrides: Overrides | None = None, origin: Origin = COMMAND_LINE,
                  site_path: str | Path | None = None) -> Scenario:
    """Read a scenario file (or a built-in scenario by name) and the site it names (or ``site_path``);
    a mistake raises ``ScenarioError``.

    ``overrides`` (``{"bess.e_kwh": 1500}``, see ``twin.config.overrides``) change fields of
    either file before validation; ``origin`` says where they were written, for errors.
    """
    path = scenario_file(path)
    scenario_data, site_changes = read_toml(path, non_empty=True), {}
    resolved: dict[str, str] = {}
    if overrides:
        scenario_changes, site_changes = split(overrides, _file_fields(ScenarioFile), _file_fields(Site), origin)
        scenario_data, resolved = apply(scenario_data, scenario_changes, origin)
    try:
        raw = validate(ScenarioFile, scenario_data, path)
    except ScenarioError as exc:
        raise attributed(exc, resolved, overrides or {}, origin) from None
    site_path = Path(site_path).resolve() if site_path is not None else (path.parent / raw.site).resolve()
    if not site_path.is_file():
        raise ScenarioError(path, "site", f"site file '{raw.site}' not found (looked at {site_path})")
    site = load_site(site_path, site_changes, origin)
    scenario = Scenario(
        name=raw.name, description=raw.description, path=path, site_path=site_path, site=site,
        start=raw.start, duration_s=raw.duration_s, step_s=raw.step_s, seed=raw.seed,
        controller=raw.controller, traffic=raw.traffic, weather=raw.weather, compare=raw.compare, faults=raw.faults, sensors=raw.sensors, criteria=raw.criteria,
    )
    try:
        _check_step(scenario, "step")
    except ScenarioError as exc:
        raise attributed(exc, resolved, overrides or {}, origin) from None
    return scenario


def _file_fields(model: type[FrozenModel]) -> set[str]:
    """The top-level keys of a file of ``model`` (aliases where the file uses them: ``duration``, ``step``)."""
    return {info.alias or name for name, info in model.model_fields.items()}

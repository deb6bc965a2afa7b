"""Sweep file schema: which scenarios, which seeds, which parameters, which statistical criteria.

A sweep file (``scenarios/sweeps/*.toml``, format in ``docs/sweeps.md``) names scenario files
(relative to the sweep file), seeds (a count of derived seeds or a list of scenario seeds),
fixed overrides (``[set]``), parameters over any site or scenario field by dotted path
(``[parameters]``: a list of values or ``{from, to, step}``), how they are combined
(``[sampling]``: grid, random or Latin hypercube with a seed) and statistical criteria over
the runs of each point (``p95(peak_15min_demand_kw) <= 2500``,
``fail_rate(minutes_over_contract <= 5) <= 0.05``; ``and`` joins run criteria that must all hold).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from twin.config.criteria import ALIASES, Criterion, known_metrics, parse_criterion
from twin.config.errors import ScenarioError
from twin.config.files import FrozenModel, read_toml, validate

Scalar = bool | int | float | str | dt.datetime  # dates: a scenario's start
ROWS_PER_FILE = 50  # a sweep's table is written every this many finished runs (``--rows-per-file``) ...
FILE_EVERY_S = 5.0  # ... or after this long, whichever comes first: a kill loses only what is not written


class Range(FrozenModel):
    """``{from = 1, to = 4, step = 0.5}``: a grid takes every step (both ends included);
    random and Latin-hypercube samples fall anywhere between the ends (on the step, if given)."""

    low: float = Field(alias="from")
    high: float = Field(alias="to")
    step: Annotated[float, Field(gt=0)] | None = None
    integer: bool = False  # for counts (``chargers[0].count``): samples are rounded

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError("'to' must not be below 'from'")
        return self


ParameterValues = Annotated[tuple[Scalar, ...], Field(min_length=1)] | Range


class Sampling(FrozenModel):
    method: Literal["grid", "random", "lhs"] = "grid"
    samples: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # random and lhs: how many points
    seed: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _samples(self) -> Sampling:
        if self.method != "grid" and self.samples is None:
            raise ValueError(f"sampling method '{self.method}' needs 'samples'")
        return self


class SweepFile(FrozenModel):
    name: str
    description: str = ""
    scenarios: Annotated[tuple[str, ...], Field(min_length=1)]
    seeds: Annotated[int, Field(ge=1, le=100_000)] | Annotated[tuple[Annotated[int, Field(ge=0)], ...], Field(min_length=1)] = 1
    seed: Annotated[int, Field(ge=0)] = 0  # the sweep's seed: run seeds derive from it (when ``seeds`` is a count)
    set: dict[str, Scalar] = {}
    parameters: dict[str, ParameterValues] = {}
    sampling: Sampling = Sampling()
    criteria: tuple[str, ...] = ()
    retries: Annotated[int, Field(ge=0, le=10)] = 2  # Dask re-runs a task whose worker died this often

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """TOML reads ``bess.e_kwh = [...]`` as nested tables; the paths are what the sweep means."""
        if isinstance(data, dict):
            data = dict(data)
            for table in ("set", "parameters"):
                if isinstance(data.get(table), dict):
                    data[table] = _flat(data[table], leaf_keys={"from", "to"} if table == "parameters" else set())
        return data

    @field_validator("parameters")
    @classmethod
    def _not_seed(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "seed" in value or "scenario.seed" in value:
            raise ValueError("vary seeds with the top-level 'seeds' (a count or a list), not as a parameter")
        return value

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_stat_criterion(text)
        return value


def _flat(table: dict[str, Any], leaf_keys: set[str], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and not (leaf_keys & value.keys()):
            flat.update(_flat(value, leaf_keys, f"{path}."))
        else:
            flat[path] = value
    return flat


@dataclass(frozen=True)
class StatCriterion:
    """``p95(peak_15min_demand_kw) <= 2500`` or ``fail_rate(minutes_over_contract <= 5) <= 0.05``."""

    text: str
    statistic: str  # mean, min, max, pNN or fail_rate
    op: str
    threshold: float
    metric: str = ""  # the KPI key, for a statistic of a KPI
    run_criteria: tuple[Criterion, ...] = ()  # for fail_rate: a run fails unless all hold ("a <= 1 and b <= 2")

    @property
    def percentile(self) -> float | None:
        return float(self.statistic[1:]) if self.statistic.startswith("p") else None


_STAT = re.compile(r"^\s*(mean|min|max|p\d{1,2}(?:\.\d+)?|fail_rate)\((.+)\)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_stat_criterion(text: str) -> StatCriterion:
    match = _STAT.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a sweep criterion; write e.g. 'p95(peak_15min_demand_kw) <= 2500' or "
                         f"'fail_rate(minutes_over_contract <= 5) <= 0.05'")
    statistic, inner, op, number = match.groups()
    if statistic == "fail_rate":
        run_criteria = tuple(parse_criterion(part) for part in inner.split(" and "))
        if not 0 <= float(number) <= 1:
            raise ValueError(f"a fail rate is a fraction between 0 and 1; got {number} in '{text}'")
        return StatCriterion(text.strip(), statistic, op, float(number), run_criteria[0].kpi_key, run_criteria)
    metric = inner.strip()
    if metric not in known_metrics():
        raise ValueError(f"unknown metric '{metric}' in '{text}' (known: {', '.join(known_metrics())})")
    return StatCriterion(text.strip(), statistic, op, float(number), ALIASES.get(metric, metric))


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file with its scenario paths resolved."""

    path: Path
    spec: SweepFile
    scenario_paths: tuple[Path, ...]

    @property
    def criteria(self) -> tuple[StatCriterion, ...]:
        return tuple(parse_stat_criterion(text) for text in self.spec.criteria)


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file; a mistake raises ``ScenarioError`` naming the file and field.

    The scenarios and overrides are checked by the caller (``twin.app.sweep.expand``), which
    loads every scenario with its overrides before anything runs.
    """
    path = Path(path)
    spec = validate(SweepFile, read_toml(path), path)
    scenario_paths = []
    for i, name in enumerate(spec.scenarios):
        found = (path.parent / name).resolve()
        if not found.is_file():
            raise ScenarioError(path, f"scenarios[{i}]", f"scenario file '{name}' not found (looked at {found})")
        scenario_paths.append(found)
    return Sweep(path, spec, tuple(scenario_paths))

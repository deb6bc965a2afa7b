"""A sweep expanded into runs: points (grid, random, Latin hypercube), seeds, keys.

Each run is a ``RunTask``: the scenario file's path and a few overrides, nothing large, so
it pickles in microseconds and a worker on another machine reads the files itself. A run's
seed is derived from the sweep's seed, the scenario and the replicate number, never from
the order of execution or the worker, so any number of workers gives the same table; every
point of a sweep sees the same traffic (common random numbers), which is what makes a
sizing curve smooth and a bisection over a parameter meaningful.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from twin import __version__
from twin.config.errors import ScenarioError
from twin.config.overrides import Origin
from twin.config.scenario import load_scenario
from twin.config.sweep import Range, Sweep

RESERVED_COLUMNS = ("scenario", "key", "point", "replicate", "seed", "status", "error", "wall_s", "passed")


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: what a worker needs to run it and to label its row."""

    key: str  # hash of the point, the seed and the files it reads (resume skips keys already done)
    scenario: str  # the scenario's name (the partition of the table)
    scenario_path: str
    point: int  # index of the parameter point
    params: dict[str, Any]  # the point's parameter values, by dotted path
    replicate: int
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)  # fixed [set] + params + seed
    origin_file: str = ""  # the sweep file, for errors
    run_dir: str | None = None  # --keep-runs: the run's own results folder


def stable_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run_seed(sweep: Sweep, scenario_name: str, replicate: int) -> int:
    """The scenario seed of replicate ``replicate``: listed in the file, or derived from the sweep seed."""
    seeds = sweep.spec.seeds
    if isinstance(seeds, tuple):
        return int(seeds[replicate])
    entropy = [sweep.spec.seed, int(stable_hash(scenario_name)[:8], 16), replicate]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def n_replicates(sweep: Sweep) -> int:
    seeds = sweep.spec.seeds
    return len(seeds) if isinstance(seeds, tuple) else seeds


def grid_values(path: str, values: Any, origin: Origin) -> list[Any]:
    if not isinstance(values, Range):
        return list(values)
    if values.step is None:
        raise origin.error(path, "a range in a grid sweep needs a 'step' (or use [sampling] method = 'random' or 'lhs')")
    n = int(math.floor((values.high - values.low) / values.step + 1e-9)) + 1
    return [_tidy(values.low + i * values.step, values) for i in range(n)]


def _tidy(x: float, spec: Range) -> float | int:
    """Snap to the step and round away binary noise, so 1.1 is 1.1 in keys, tables and plots."""
    if spec.step is not None:
        x = spec.low + round((x - spec.low) / spec.step) * spec.step
    x = min(max(x, spec.low), spec.high)
    return int(round(x)) if spec.integer else float(f"{x:.12g}")


def _from_unit(u: float, values: Any) -> Any:
    """The value at quantile ``u`` in [0, 1) of a parameter's range or list."""
    if isinstance(values, Range):
        return _tidy(values.low + u * (values.high - values.low), values)
    return values[min(int(u * len(values)), len(values) - 1)]


def points(sweep: Sweep, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The parameter points of the sweep, in a fixed order (``parameters`` defaults to the file's)."""
    params = sweep.spec.parameters if parameters is None else parameters
    origin = Origin(sweep.path, "parameters.")
    if not params:
        return [{}]
    names = list(params)
    sampling = sweep.spec.sampling
    if sampling.method == "grid":
        return [dict(zip(names, combo)) for combo in itertools.product(*(grid_values(n, params[n], origin) for n in names))]
    if sampling.method == "random":
        unit = np.random.default_rng(sampling.seed).random((sampling.samples, len(names)))
    else:
        unit = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(sampling.seed)).random(sampling.samples)
    return [{n: _from_unit(float(u), params[n]) for n, u in zip(names, row)} for row in unit]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expand(sweep: Sweep, run_root: Path | None = None, fixed: dict[str, Any] | None = None,
           without: str | None = None) -> list[RunTask]:
    """Every run of the sweep, each scenario loaded with each point's overrides first.

    A bad path or value is raised here, as a ``ScenarioError`` naming the sweep file and the
    field, before anything runs. ``fixed``/``without``: hold one parameter at a value (bisection).
    """
    spec = sweep.spec
    parameters = {k: v for k, v in spec.parameters.items() if k != without}
    clash = (set(parameters) | set(fixed or {})) & set(spec.set)
    if clash:
        raise ScenarioError(sweep.path, f"set.{sorted(clash)[0]}", "is also a parameter; give it in one place")
    for name in parameters:
        if name in RESERVED_COLUMNS:
            raise ScenarioError(sweep.path, f"parameters.{name}", f"'{name}' names a column of the results table")
    tasks = []
    for scenario_path in sweep.scenario_paths:
        for index, point in enumerate(points(sweep, parameters)):
            point = {**point, **(fixed or {})}
            overrides = {**spec.set, **point}
            origin = Origin(sweep.path, "parameters.", {path: "set." for path in spec.set})
            scenario = load_scenario(scenario_path, overrides, origin)  # checks every value before any run
            digests = [file_digest(scenario_path), file_digest(scenario.site_path)]
            for replicate in range(n_replicates(sweep)):
                seed = run_seed(sweep, scenario.name, replicate)
                key = stable_hash(__version__, digests, sorted(overrides.items()), seed)[:20]
                tasks.append(RunTask(key, scenario.name, str(scenario_path), index, point, replicate, seed,
                                     {**overrides, "seed": seed}, str(sweep.path),
                                     str(run_root / scenario.name / key) if run_root else None))
    return tasks

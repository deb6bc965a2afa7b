"""A whole sweep: expand, skip what is done, execute, read the table back, judge the criteria.

``SweepStudy`` is what ``satwin sweep`` drives; a bisection (``--find-min``) calls
``run_points`` once per step. Everything lands in one table under ``DIR``,
so a re-run — of a whole sweep or of a bisection — skips every run already there.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from twin.app.sweep.execute import Progress, Tally, execute
from twin.app.sweep.expand import RunTask, expand, n_replicates
from twin.app.sweep.find_min import Bisection, bisect, candidates
from twin.app.sweep.summary import write_summary
from twin.app.sweep.table import RowWriter, done_keys, read_rows, table_schema
from twin.config.scenario import load_scenario
from twin.config.sweep import ROWS_PER_FILE, StatCriterion, Sweep
from twin.results.sweep_stats import PointVerdicts, judge_points


@dataclass
class Batch:
    tasks: list[RunTask]
    table: pa.Table  # the rows of ``tasks`` (done now or before)
    tally: Tally
    skipped: int


def schema_for(tasks: Sequence[RunTask]) -> pa.Schema:
    criteria: list[str] = []
    for path in dict.fromkeys(t.scenario_path for t in tasks):
        criteria += load_scenario(path).criteria
    return table_schema(tasks, criteria)


def run_points(tasks: list[RunTask], out_dir: Path, client: Any | None, retries: int = 2,
               progress: Progress | None = None, schema: pa.Schema | None = None,
               rows_per_file: int = ROWS_PER_FILE) -> Batch:
    """Run the tasks whose keys are not in ``out_dir`` yet; return the rows of all of them."""
    schema = schema or schema_for(tasks)
    done = done_keys(out_dir)
    todo = [t for t in tasks if t.key not in done]
    tally = execute(todo, RowWriter(out_dir, schema, batch=rows_per_file), client, retries, progress)
    keys = {t.key for t in tasks}
    table = read_rows(out_dir, schema)
    table = table.filter(pa.array([k in keys for k in table.column("key").to_pylist()], type=pa.bool_()))
    return Batch(tasks, table, tally, len(tasks) - len(todo))


def copy_inputs(sweep: Sweep, out_dir: Path) -> None:
    """The sweep file beside its table, for the record (the scenarios' digests are in the keys)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sweep.path, out_dir / "sweep.toml")


def param_names(tasks: Sequence[RunTask]) -> list[str]:
    return list(dict.fromkeys(name for t in tasks for name in t.params))


class SweepStudy:
    """One ``satwin sweep`` invocation: a plain sweep or a bisection, its table and summary."""

    def __init__(self, sweep: Sweep, out_dir: Path, keep_runs: bool = False, rows_per_file: int = ROWS_PER_FILE) -> None:
        self.sweep, self.out_dir, self.rows_per_file = sweep, Path(out_dir), rows_per_file
        self.run_root = self.out_dir / "runs-data" if keep_runs else None
        self.criteria: list[StatCriterion] = list(sweep.criteria)
        self.tasks: list[RunTask] = []
        self.params: list[str] = []
        self.points: list[PointVerdicts] = []
        self.bisection: Bisection | None = None
        self.tally = Tally(0)
        self.skipped = 0
        self.table: pa.Table | None = None  # the rows of this invocation's runs (done now or before)

    def prepare(self, find_min: str | None = None) -> None:
        """Expand the sweep (a bisection: at both ends of its range), checking every value."""
        if find_min is None:
            self.tasks = expand(self.sweep, self.run_root)
        else:
            values = candidates(self.sweep, find_min)
            for value in (values[0], values[-1]):
                self.tasks = expand(self.sweep, self.run_root, fixed={find_min: value}, without=find_min)
        copy_inputs(self.sweep, self.out_dir)

    def describe(self, find_min: str | None = None) -> str:
        replicates = n_replicates(self.sweep)
        if find_min is not None:
            values = candidates(self.sweep, find_min)
            return (f"bisection of {find_min} over {len(values)} values ({values[0]:g} … {values[-1]:g}), "
                    f"{len(self.tasks)} runs a step ({replicates} seeds)")
        return f"{len(self.tasks)} runs ({len(self.sweep.scenario_paths)} scenarios x " \
               f"{len(self.tasks) // max(1, replicates * len(self.sweep.scenario_paths))} points x {replicates} seeds)"

    def _run(self, tasks: list[RunTask], client: Any | None, progress: Progress | None) -> Batch:
        batch = run_points(tasks, self.out_dir, client, self.sweep.spec.retries, progress,
                           rows_per_file=self.rows_per_file)
        self.tally.total += batch.tally.total
        self.tally.done += batch.tally.done
        self.tally.failed += batch.tally.failed
        self.skipped += batch.skipped
        return batch

    def run(self, client: Any | None, progress: Progress | None = None) -> None:
        batch = self._run(self.tasks, client, progress)
        self.params = param_names(self.tasks)
        self.table = batch.table

    def find_min(self, param: str, criterion: StatCriterion, client: Any | None,
                 progress: Progress | None = None) -> None:
        self.criteria = [criterion, *(c for c in self.criteria if c.text != criterion.text)]
        tables: list[pa.Table] = []

        def judge(value: float) -> bool:
            tasks = expand(self.sweep, self.run_root, fixed={param: value}, without=param)
            batch = self._run(tasks, client, progress)
            tables.append(batch.table)
            return all(p.verdicts[0].passed for p in judge_points(batch.table, [criterion], param_names(tasks)))

        self.bisection = bisect(param, candidates(self.sweep, param), judge)
        self.params = [param, *(n for n in self.sweep.spec.parameters if n != param)]
        self.table = pa.concat_tables(tables, promote_options="default")

    @property
    def passed(self) -> bool:
        if self.bisection is not None:
            return self.bisection.answer is not None
        return all(p.passed for p in self.points)

    def tally_text(self) -> str:
        text = f"{self.tally.done} runs done, {self.tally.failed} failed"
        return text + (f", {self.skipped} already in {self.out_dir}" if self.skipped else "")

    def finish(self, wall_s: float) -> Path:
        table = self.table if self.table is not None else read_rows(self.out_dir)
        self.points = judge_points(table, self.criteria, self.params)
        spec = self.sweep.spec
        facts = [f"sweep file: `{self.sweep.path}` (copied as `sweep.toml`); table: `runs/` (Parquet, by scenario)",
                 f"{table.num_rows} runs in this summary: {self.tally.done} run now in {wall_s:.0f} s "
                 f"({self.tally.failed} failed), {self.skipped} taken from earlier runs in this folder",
                 f"seeds: {_seeds_text(spec)}; sampling: {spec.sampling.method}"]
        answer = None
        if self.bisection is not None:
            answer = (self.bisection.param, self.bisection.answer)
            facts.append("bisection: " + ", ".join(f"{v:g} {'pass' if ok else 'fail'}"
                                                   for v, ok in self.bisection.tried.items()))
        return write_summary(self.out_dir, spec.name, spec.description, table, self.points, self.criteria,
                             self.params, facts, answer)


def _seeds_text(spec) -> str:
    if isinstance(spec.seeds, tuple):
        return "listed: " + ", ".join(map(str, spec.seeds))
    return f"{spec.seeds} derived from sweep seed {spec.seed}"

"""One reader of a results folder: lazy, cached, only the columns asked for; finishing a run reads each part once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from twin.results.kpi import KPI_COLUMNS, compute_kpis
from twin.results.reader import Results
from twin.run.session import run_scenario


@pytest.fixture(scope="module")
def two_hour_run(holiday, tmp_path_factory):
    """Two hours at 1 s: two timeseries parts (3600 rows each) and their event parts."""
    return run_scenario(holiday.with_options(step_s=1.0, duration_s=2 * 3600.0), tmp_path_factory.mktemp("r") / "run")


def test_finishing_a_run_reads_each_parquet_part_once(holiday, tmp_path, monkeypatch):
    reads: Counter[Path] = Counter()
    real_read = pq.read_table

    def counted(source, *args, **kwargs):
        reads[Path(source)] += 1
        return real_read(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", counted)  # every reader goes through pyarrow's read_table
    result = run_scenario(holiday.with_options(step_s=1.0, duration_s=2 * 3600.0), tmp_path / "run")
    parts = sorted(result.out_dir.glob("*/part-*.parquet"))
    assert len([p for p in parts if p.parent.name == "timeseries"]) == 2 and len(parts) > 2
    assert {p: reads[p] for p in parts} == {p: 1 for p in parts}
    assert (result.out_dir / "plot.png").exists() and (result.out_dir / "report.md").exists()


def test_results_read_only_the_columns_asked_for_and_never_twice(two_hour_run):
    folder = two_hour_run.out_dir
    results = Results(folder)
    grid = results.timeseries(("grid_p_kw",))
    assert grid.column_names == ["t_s", "grid_p_kw"] and grid.num_rows == 7200
    assert set(results.part_reads.values()) == {1}
    again = results.timeseries(("grid_p_kw",))  # cached: no read
    assert again.equals(grid) and set(results.part_reads.values()) == {1}
    more = results.timeseries(("grid_p_kw", "v_pu."))  # reads v_pu.* only, rows aligned with the cache
    assert set(results.part_reads.values()) == {2}
    full = Results(folder).timeseries()
    for name in more.column_names:
        assert more.column(name).equals(full.column(name)), name
    assert (full.column("t_s").to_numpy()[1:] > full.column("t_s").to_numpy()[:-1]).all()


def test_kpis_from_an_open_results_equal_kpis_from_the_folder(two_hour_run):
    folder = two_hour_run.out_dir
    results = Results(folder)
    results.timeseries(KPI_COLUMNS)
    assert compute_kpis(results) == compute_kpis(folder) == two_hour_run.kpis
    assert results.meta["status"] == "completed" and results.events.num_rows > 0

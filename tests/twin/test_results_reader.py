"""One reader of a results folder: lazy, cached, only the columns asked for; finishing a run reads each part once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.results.kpi import KPI_COLUMNS, compute_kpis
from twin.results.reader import Results
from twin.run.session import run_scenario


@pytest.fixture(scope="module")
def two_hour_run(holiday, tmp_path_factory):
    """Two hours at 1 s: at least two timeseries parts (3600 rows each, or fewer after 10 s of wall time)."""
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
    assert len([p for p in parts if p.parent.name == "timeseries"]) >= 2 and len(parts) > 2  # more on a slow machine
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


def test_each_column_is_read_as_one_array_a_reader_sees_without_a_copy(two_hour_run):
    results = Results(two_hour_run.out_dir)
    table = results.timeseries(("grid_p_kw", "v_pu."))
    assert len(results.parts) >= 2
    for name in table.column_names:
        column = table.column(name)
        assert column.num_chunks == 1, name
        assert np.shares_memory(column.to_numpy(), column.to_numpy()), name  # a view each time
    concatenated = pa.concat_tables([pq.read_table(p, columns=table.column_names) for p in results.parts])
    assert table.equals(concatenated.combine_chunks())


def test_parts_that_are_not_plain_numbers_throughout_read_as_concatenating_them_would(tmp_path):
    """Not what the recorder writes, but a folder from elsewhere: a column all nulls in one part
    and numbers in the next, one with a null in the first part, one in the second, one of text; each reads as Arrow concatenates the parts."""
    folder = tmp_path / "run" / "timeseries"
    folder.mkdir(parents=True)
    parts = [pa.table({"t_s": [1.0, 2.0], "a": pa.array([None, None], pa.null()), "b": [1.0, None],
                       "c": ["x", "y"], "d": pa.array([1, 2], pa.int64()), "e": [1.0, 2.0]}),
             pa.table({"t_s": [3.0, 4.0], "a": pa.array([3.5, 4.5], pa.float64()), "b": [3.0, 4.0],
                       "c": ["z", "w"], "d": pa.array([3, 4], pa.int64()), "e": [None, 4.0]})]
    for i, part in enumerate(parts):
        pq.write_table(part, folder / f"part-{i:05d}.parquet")
    table = Results(folder.parent).timeseries()
    expected = pa.concat_tables(parts, promote_options="default")
    assert table.column_names == expected.column_names
    for name in expected.column_names:
        assert table.column(name).to_pylist() == expected.column(name).to_pylist(), name
        assert table.column(name).type == expected.column(name).type, name

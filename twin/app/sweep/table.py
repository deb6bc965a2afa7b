"""The sweep's table: one row per run, a Parquet dataset partitioned by scenario.

``DIR/runs/scenario=NAME/part-*.parquet`` (hive partitioning, as pyarrow, pandas, Dask,
DuckDB and Spark read it). Rows are written in batches while the sweep runs, each batch a
new file, so a killed sweep keeps what it finished and a re-run skips those keys.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from twin.app.sweep.expand import RunTask
from twin.app.sweep.worker import NUMERIC_KPIS, verdict_column
from twin.config.sweep import FILE_EVERY_S, ROWS_PER_FILE

PARTITIONING = ds.partitioning(pa.schema([("scenario", pa.string())]), flavor="hive")


def table_schema(tasks: Iterable[RunTask], criteria: Iterable[str]) -> pa.Schema:
    """Every column of the sweep, typed up front so every batch file has the same schema."""
    params: dict[str, pa.DataType] = {}
    for task in tasks:
        for name, value in task.params.items():
            kind = pa.float64() if isinstance(value, (int, float)) and not isinstance(value, bool) else pa.string()
            params[name] = pa.string() if params.get(name, kind) != kind else kind
    fields = [("scenario", pa.string()), ("key", pa.string()), ("point", pa.int64()), ("replicate", pa.int64()),
              ("seed", pa.int64()), *params.items(), ("status", pa.string()), ("error", pa.string()),
              ("passed", pa.bool_()), *((k, pa.float64()) for k in NUMERIC_KPIS),
              *((verdict_column(c), pa.bool_()) for c in dict.fromkeys(criteria)), ("wall_s", pa.float64())]
    return pa.schema(fields)


class RowWriter:
    """Collects rows and writes them as one file per batch (every ``batch`` rows or ``every_s`` seconds)."""

    def __init__(self, out_dir: Path, schema: pa.Schema, batch: int = ROWS_PER_FILE,
                 every_s: float = FILE_EVERY_S) -> None:
        self.root = Path(out_dir) / "runs"
        self.schema = schema
        self.batch, self.every_s = batch, every_s
        self._rows: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.batch or time.monotonic() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """One file per scenario, written under a hidden name and renamed: a killed sweep leaves no half file."""
        self._last = time.monotonic()
        if not self._rows:
            return
        table = pa.Table.from_pylist([self._typed(row) for row in self._rows], schema=self.schema)
        stem = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        for name in dict.fromkeys(table.column("scenario").to_pylist()):
            folder = self.root / f"scenario={quote(name, safe='')}"
            folder.mkdir(parents=True, exist_ok=True)
            rows = table.filter(pc.equal(table.column("scenario"), name)).drop_columns(["scenario"])
            hidden = folder / f".{stem}.tmp"  # dataset readers skip names that start with "."
            pq.write_table(rows, hidden)
            os.replace(hidden, folder / f"{stem}.parquet")
        self._rows = []

    def _typed(self, row: dict[str, Any]) -> dict[str, Any]:
        return {name: (str(row[name]) if self.schema.field(name).type == pa.string() and row.get(name) is not None
                       else row.get(name)) for name in self.schema.names}


def read_rows(out_dir: Path, schema: pa.Schema | None = None) -> pa.Table:
    """All rows written so far (newest row per key), sorted by scenario, point and replicate."""
    root = Path(out_dir) / "runs"
    if not root.exists() or not any(root.rglob("*.parquet")):
        return schema.empty_table() if schema is not None else pa.table({})
    table = ds.dataset(root, format="parquet", partitioning=PARTITIONING, schema=schema).to_table()
    newest = {key: i for i, key in enumerate(table.column("key").to_pylist())}  # a key written twice: the later row
    table = table.take(sorted(newest.values()))
    return table.sort_by([("scenario", "ascending"), ("point", "ascending"), ("replicate", "ascending"),
                          ("key", "ascending")])


def done_keys(out_dir: Path) -> set[str]:
    root = Path(out_dir) / "runs"
    if not root.exists() or not any(root.rglob("*.parquet")):
        return set()
    return set(ds.dataset(root, format="parquet", partitioning=PARTITIONING).to_table(columns=["key"])
               .column("key").to_pylist())

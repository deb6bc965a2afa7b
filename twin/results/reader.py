"""Reading a results folder (written by ``twin.run.recorder``); a killed run's folder reads too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from twin.model.events import EVENT_COLUMNS


def read_timeseries(results_dir: str | Path, prefixes: tuple[str, ...] | None = None) -> pa.Table:
    """All recorded steps of a results folder, in time order (works on a killed run's folder too).

    ``prefixes``: read only the columns whose names start with one of these (and ``t_s``);
    a day at 1 s has ~200 columns and most readers need a few dozen.
    """
    return _read_parts(Path(results_dir) / "timeseries", sort_key="t_s", prefixes=prefixes)


def read_events(results_dir: str | Path) -> pa.Table:
    table = _read_parts(Path(results_dir) / "events", sort_key=None)
    if table.num_rows == 0:
        return pa.table({name: pa.array([], type=pa.float64() if name in ("t_s", "value") else pa.string())
                         for name in EVENT_COLUMNS})
    return table


def read_meta(results_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(results_dir) / "run.json").read_text())


def _read_parts(folder: Path, sort_key: str | None, prefixes: tuple[str, ...] | None = None) -> pa.Table:
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return pa.table({})
    columns = None
    if prefixes is not None:
        columns = [name for name in pq.read_schema(parts[0]).names if name == sort_key or name.startswith(prefixes)]
    table = pa.concat_tables([pq.read_table(part, columns=columns) for part in parts], promote_options="default")
    return table.sort_by(sort_key) if sort_key else table

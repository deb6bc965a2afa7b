"""Reading a results folder (written by ``twin.run.recorder``); a killed run's folder reads too.

``Results`` is the folder opened once and handed to everything that reads it (KPIs,
criteria, report, plot, comparison, GUI replay). It reads lazily and keeps what it has read:
``run.json`` once, the events once, and of the timeseries only the columns asked for; a
column is never read twice. Ask for the union first (``timeseries(A + B)``) when several
readers follow, and each Parquet part is read once. It is a view of the folder when first
read: open a new one to see a run that is still being written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from twin.model.events import EVENT_COLUMNS

TIME = "t_s"  # every timeseries table is in time order and carries this column


class Results:
    """One results folder: meta, timeseries columns and events, each read at most once."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.part_reads: Counter[Path] = Counter()  # Parquet parts read, timeseries and events
        self._timeseries: pa.Table | None = None  # the columns read so far, in time order

    @cached_property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.folder / "run.json").read_text())

    @cached_property
    def parts(self) -> list[Path]:
        """The timeseries parts in the order they were written."""
        return sorted((self.folder / "timeseries").glob("part-*.parquet"))

    @cached_property
    def column_names(self) -> list[str]:
        """Every recorded column (from the first part's footer; all parts share the layout)."""
        return list(pq.read_schema(self.parts[0]).names) if self.parts else []

    def timeseries(self, prefixes: tuple[str, ...] | None = None) -> pa.Table:
        """The recorded steps in time order, with the columns starting with one of ``prefixes``
        (and ``t_s``); all columns when ``prefixes`` is None. A day at 1 s has ~200 columns and
        most readers need a few dozen."""
        if not self.parts:
            return pa.table({})
        wanted = [n for n in self.column_names if n == TIME or prefixes is None or n.startswith(prefixes)]
        have = set(self._timeseries.column_names) if self._timeseries is not None else set()
        missing = [n for n in wanted if n not in have]
        if missing:
            self._add_columns(missing)
        return self._timeseries.select(wanted)

    def _add_columns(self, names: list[str]) -> None:
        read = sorted({TIME, *names}, key=self.column_names.index)
        table = self._end_to_end(read)
        if not _in_time_order(table):  # parts are written in time order: a copy of the table is rarely needed
            table = table.sort_by(TIME)
        if self._timeseries is None:
            self._timeseries = table
            return
        for name in names:  # same parts, same unique times: the rows line up with what is cached
            self._timeseries = self._timeseries.append_column(name, table.column(name))

    @cached_property
    def events(self) -> pa.Table:
        parts = sorted((self.folder / "events").glob("part-*.parquet"))
        if not parts:
            return pa.table({name: pa.array([], type=pa.float64() if name in ("t_s", "value") else pa.string())
                             for name in EVENT_COLUMNS})
        return self._concat(parts, None)

    @cached_property
    def verdicts(self) -> list[dict[str, Any]]:
        """The criteria as judged at the end of the run (``verdicts.json``; absent: none)."""
        path = self.folder / "verdicts.json"
        return json.loads(path.read_text()) if path.exists() else []

    @cached_property
    def resolved(self) -> dict[str, Any]:
        """The scenario after command-line options, site included (``resolved.json``; absent: empty)."""
        path = self.folder / "resolved.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def part_rows(self) -> list[int]:
        """Rows of each timeseries part, from the footers alone."""
        return [pq.ParquetFile(part).metadata.num_rows for part in self.parts]

    def read_part(self, index: int, columns: list[str]) -> pa.Table:
        """One timeseries part, only ``columns`` (replay pulls a part per redraw tick)."""
        return self._read(self.parts[index], columns)

    def _end_to_end(self, columns: list[str]) -> pa.Table:
        """The timeseries parts' ``columns`` end to end, each column one contiguous array.

        Each part is read and copied into a buffer sized from the footers, then dropped: a day
        at 1 s peaks ~40 MB lower than concatenating the parts (a chunk per part, held while
        Arrow's pool keeps what decoding took), and a reader's ``to_numpy()`` is then a view,
        not a copy. A column that is not plain numbers in every part (nulls, a type changing
        between parts: not what ``Recorder`` writes) is kept as chunks, as Arrow promotes them.
        """
        rows = self.part_rows()
        total = sum(rows)
        filled: dict[str, np.ndarray] = {}
        chunked: dict[str, list[pa.ChunkedArray]] = {}
        start = 0
        for part, n in zip(self.parts, rows):
            table = self._read(part, columns)
            for name in columns:
                column = table.column(name)
                plain = _plain_numbers(column)
                buffer = filled.get(name)
                if buffer is None and name not in chunked and plain:
                    buffer = filled[name] = np.empty(total, dtype=column.type.to_pandas_dtype())
                if buffer is not None and plain and column.type.to_pandas_dtype() == buffer.dtype:
                    buffer[start:start + n] = column.to_numpy()
                    continue
                if buffer is not None:  # irregular from this part on: what was copied becomes the first chunk
                    chunked[name] = [pa.chunked_array([pa.array(filled.pop(name)[:start])])]
                chunked.setdefault(name, []).append(column)
            start += n
        return pa.table({name: pa.array(filled[name]) if name in filled else _promoted(name, chunked[name])
                         for name in columns})

    def _concat(self, parts: list[Path], columns: list[str] | None) -> pa.Table:
        return pa.concat_tables([self._read(part, columns) for part in parts], promote_options="default")

    def _read(self, part: Path, columns: list[str] | None) -> pa.Table:
        self.part_reads[part] += 1
        # pre_buffer (coalesced reads for object stores) held ~20 MB more a day at 1 s, no faster here
        return pq.read_table(part, columns=columns, pre_buffer=False)


def prefixed_columns(table: pa.Table, prefix: str) -> Iterator[tuple[str, np.ndarray]]:
    """Each column whose name starts with ``prefix``, in turn: (the name without the prefix, its
    values). One element at a time, not a matrix of them all: a day at 1 s is 86,400 rows an
    element, and a ``Results`` column's values are a view, not a copy."""
    for name in table.column_names:
        if name.startswith(prefix):
            yield name.removeprefix(prefix), table.column(name).to_numpy()


def _plain_numbers(column: pa.ChunkedArray) -> bool:
    return (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) and column.null_count == 0


def _promoted(name: str, chunks: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    """``chunks`` as one column, types promoted as concatenating the parts' tables would."""
    return pa.concat_tables([pa.table({name: c}) for c in chunks], promote_options="default").column(name)


def _in_time_order(table: pa.Table) -> bool:
    t_s = table.column(TIME).to_numpy()
    return bool((t_s[1:] > t_s[:-1]).all())


def open_results(source: Results | str | Path) -> Results:
    """``source`` itself when it is already open, else the folder opened."""
    return source if isinstance(source, Results) else Results(source)


def read_timeseries(results_dir: str | Path, prefixes: tuple[str, ...] | None = None) -> pa.Table:
    """All recorded steps of a results folder, in time order (a one-off read; see ``Results``)."""
    return Results(results_dir).timeseries(prefixes)


def read_events(results_dir: str | Path) -> pa.Table:
    return Results(results_dir).events


def read_meta(results_dir: str | Path) -> dict[str, Any]:
    return Results(results_dir).meta

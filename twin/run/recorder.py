"""Every run records: a results folder of chunked Parquet that stays readable after a crash.

Layout of a results folder::

    run.json            what ran (scenario, site, controller, backend, status, timing)
    scenario.toml       the scenario file as given; site.toml likewise
    resolved.json       the scenario after command-line options, site included
    timeseries/part-NNNNN.parquet   one row per step, written in chunks during the run
    events/part-NNNNN.parquet       arrivals, departures, balks, setpoints, faults ...
    kpi.json  report.md  plot.png   written at the end

Why one file per chunk: a Parquet file is only readable once its footer is written, so a
single growing file would be lost with a killed run. Each chunk is written to a temporary
name and renamed, so a reader never sees half a chunk; ``read_timeseries`` reads them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from twin.model.core import Snapshot, Twin
from twin.model.events import EVENT_COLUMNS, Event
from twin.model.sensors import MEASURED_FIELDS

ARRAY_FIELDS = {  # snapshot array field -> name list on the twin that labels its columns
    "v_pu": lambda twin: twin.grid.bus_names,
    "line_loading_pct": lambda twin: twin.grid.line_names,
    "trafo_loading_pct": lambda twin: twin.grid.trafo_names,
    "pv_available_kw": lambda twin: twin.pv.names,
    "pv_p_kw": lambda twin: twin.pv.names,
    "pv_limit_pct": lambda twin: twin.pv.names,
    "charger_p_kw": lambda twin: twin.connector_names,
    "charger_limit_kw": lambda twin: twin.connector_names,
    "charger_connected": lambda twin: twin.connector_names,
    "charger_ev_soc_pct": lambda twin: twin.connector_names,
    "queue_len": lambda twin: [c.name for c in twin.site.vehicles],
    "measured": lambda twin: [*MEASURED_FIELDS, *twin.sensors.device_point_names],  # site points, then devices
}


NOT_RECORDED = {"comms_lost"}  # sets of names, not numbers; the events table has them
# Network results and per-connector arrays are stored as float32: 24 bits of mantissa
# resolve 0.1 W of a 1.6 MW charger, 1e-7 pu of a voltage and 1e-5 % of a loading, far finer
# than any meter or sensor model (0.2 class at best). Site figures, PV (a KPI input), totals
# and time stay float64: KPIs, verdicts and the energy balance read back exactly as computed.
FLOAT32_FIELDS = {"v_pu", "line_loading_pct", "trafo_loading_pct", "charger_p_kw", "charger_limit_kw",
                  "charger_ev_soc_pct"}
# zstd on floats split into byte streams (no dictionary: measured values rarely repeat),
# dictionaries for the events' strings. Measured on a 24 h at 1 s recording (181 columns):
# 41 MB with pyarrow's defaults, 25 MB with float32 arrays alone, 11.5 MB with both; 4x
# longer chunks would save another 11 % at 4x the buffer, so a chunk stays an hour at 1 s.
ZSTD_LEVEL = 3


def column_layout(twin: Twin) -> list[tuple[str, str | None, int]]:
    """(field, column-suffix or None for a scalar, width) for every snapshot field, in order."""
    layout = []
    for f in fields(Snapshot):
        if f.name in NOT_RECORDED:
            continue
        if f.name in ARRAY_FIELDS:
            names = ARRAY_FIELDS[f.name](twin)
            layout.append((f.name, ",".join(names), len(names)))
        else:
            layout.append((f.name, None, 1))
    return layout


def column_names(layout: list[tuple[str, str | None, int]]) -> list[str]:
    names = []
    for field, suffixes, _width in layout:
        if suffixes is None:
            names.append(field)
        elif suffixes:
            names += [f"{field}.{suffix}" for suffix in suffixes.split(",")]
    return names


class Recorder:
    """A sink that writes snapshots and events into a results folder in Parquet chunks."""

    def __init__(self, out_dir: Path, twin: Twin, meta: dict[str, Any], chunk_rows: int = 3600,
                 chunk_wall_s: float = 10.0) -> None:
        self.out_dir = Path(out_dir)
        (self.out_dir / "timeseries").mkdir(parents=True, exist_ok=True)
        (self.out_dir / "events").mkdir(parents=True, exist_ok=True)
        self.layout = column_layout(twin)
        self.columns = column_names(self.layout)
        self.chunk_rows = chunk_rows
        self.chunk_wall_s = chunk_wall_s
        self._buffer = np.empty((chunk_rows, len(self.columns)))
        self._plan_rows()
        self._rows = 0
        self._events: list[Event] = []
        self._part = 0
        self._last_flush = time.monotonic()
        self.meta = dict(meta, status="running", steps_recorded=0)
        self._write_meta()
        scenario = twin.scenario
        for source, name in ((scenario.path, "scenario.toml"), (scenario.site_path, "site.toml")):
            if source is not None:
                shutil.copyfile(source, self.out_dir / name)
        (self.out_dir / "resolved.json").write_text(scenario.model_dump_json(indent=2))

    def _plan_rows(self) -> None:
        """Where each snapshot field goes in a row, worked out once: a row is then one gather
        of all scalars and one slice assignment per array field."""
        scalars, scalar_cols, self._array_slices = [], [], []
        self._measured_slice = slice(0, 0)
        self._float32_cols: set[int] = set()
        col = 0
        for field, suffixes, width in self.layout:
            if field == "measured":
                self._measured_slice = slice(col, col + width)
            elif suffixes is None:
                scalars.append(field)
                scalar_cols.append(col)
            else:
                self._array_slices.append((field, slice(col, col + width)))
            if field in FLOAT32_FIELDS:
                self._float32_cols.update(range(col, col + width))
            col += width
        self._scalars = attrgetter(*scalars)
        self._scalar_cols = np.array(scalar_cols, dtype=int)
        self._measured = attrgetter(*MEASURED_FIELDS)

    def on_snapshot(self, snap: Snapshot) -> None:
        row = self._buffer[self._rows]
        row[self._scalar_cols] = self._scalars(snap)
        for field, part in self._array_slices:
            row[part] = getattr(snap, field)
        measured = snap.measured
        row[self._measured_slice] = (*self._measured(measured), *measured.devices.values())
        self._rows += 1
        self.meta["steps_recorded"] += 1
        # the clock is read every row: a paced run makes a row a second, and a kill must lose seconds, not minutes
        if self._rows == self.chunk_rows or time.monotonic() - self._last_flush > self.chunk_wall_s:
            self.flush()

    def on_events(self, events: list[Event]) -> None:
        self._events.extend(events)

    def flush(self) -> None:
        """Write what is buffered as the next chunk (timeseries and events)."""
        if self._rows:
            block = self._buffer[:self._rows]
            table = pa.Table.from_arrays([pa.array(block[:, i].astype(np.float32 if i in self._float32_cols
                                                                        else np.float64))
                                          for i in range(len(self.columns))], names=self.columns)
            self._write(table, "timeseries")
        if self._events:
            table = pa.table(dict(zip(EVENT_COLUMNS, map(list, zip(*self._events)))))  # by column: no dict a row
            self._write(table, "events")
        self._rows = 0
        self._events = []
        self._part += 1
        self._last_flush = time.monotonic()
        self._write_meta()

    def _write(self, table: pa.Table, folder: str) -> None:
        final = self.out_dir / folder / f"part-{self._part:05d}.parquet"
        temporary = final.with_suffix(".tmp")
        floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
        others = [name for name in table.column_names if name not in floats]
        try:
            pq.write_table(table, temporary, compression="zstd", compression_level=ZSTD_LEVEL,
                           use_dictionary=others or False, use_byte_stream_split=floats or False)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk: free what the torn chunk took; earlier chunks stay whole
            raise
        os.replace(temporary, final)

    def close(self, status: str = "completed", **extra: Any) -> None:
        try:
            self.flush()
        except OSError as exc:  # a full disk: run.json still says how the run ended, and the error goes on
            self.meta.update(extra)
            self.meta.update(status="failed", reason=f"the recording could not be written: {exc.strerror or exc}; "
                             "the steps up to steps_recorded are readable")
            self.meta["steps_recorded"] -= self._rows
            with contextlib.suppress(OSError):
                self._write_meta()
            raise
        self.meta.update(status=status, **extra)
        self._write_meta()

    def _write_meta(self) -> None:
        temporary = self.out_dir / "run.json.tmp"
        temporary.write_text(json.dumps(self.meta, indent=2, default=str))
        os.replace(temporary, self.out_dir / "run.json")

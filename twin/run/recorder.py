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

import json
import os
import shutil
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from twin.model.core import Snapshot, Twin
from twin.model.events import Event
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

    def on_snapshot(self, snap: Snapshot) -> None:
        row = self._buffer[self._rows]
        col = 0
        for field, _suffixes, width in self.layout:
            value = getattr(snap, field)
            if field == "measured":
                value = [*(getattr(value, name) for name in MEASURED_FIELDS), *value.devices.values()]
            if width == 1 and _suffixes is None:
                row[col] = value
            else:
                row[col:col + width] = value
            col += width
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
            table = pa.Table.from_arrays([pa.array(self._buffer[:self._rows, i]) for i in range(len(self.columns))],
                                         names=self.columns)
            self._write(table, "timeseries")
        if self._events:
            table = pa.Table.from_pylist([e._asdict() for e in self._events])
            self._write(table, "events")
        self._rows = 0
        self._events = []
        self._part += 1
        self._last_flush = time.monotonic()
        self._write_meta()

    def _write(self, table: pa.Table, folder: str) -> None:
        final = self.out_dir / folder / f"part-{self._part:05d}.parquet"
        temporary = final.with_suffix(".tmp")
        try:
            pq.write_table(table, temporary)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk: free what the torn chunk took; earlier chunks stay whole
            raise
        os.replace(temporary, final)

    def close(self, status: str = "completed", **extra: Any) -> None:
        self.flush()
        self.meta.update(status=status, **extra)
        self._write_meta()

    def _write_meta(self) -> None:
        temporary = self.out_dir / "run.json.tmp"
        temporary.write_text(json.dumps(self.meta, indent=2, default=str))
        os.replace(temporary, self.out_dir / "run.json")

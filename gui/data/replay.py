"""Reading a results folder for replay: only the plotted columns, one Parquet chunk at a time.

The recorder writes a chunk per hour of 1 s steps (``timeseries/part-NNNNN.parquet``).
Opening a folder reads just the footers (row counts, schema); the window then pulls one
chunk per redraw tick, projecting the ~40 columns it plots out of the ~170 recorded, so a
long run opens at once and fills in while the window stays responsive.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from gui.data.channels import Channels, Limits, SiteNames
from twin.config.site import Site
from twin.model.events import Event
from twin.results.reader import Results, open_results


# what a second run overlays in replay (``satwin gui RUN_A --compare RUN_B``): the curves of
# ``satwin compare``'s overlay plot (``twin.results.side_by_side.OVERLAY``; a test keeps them equal)
COMPARED_CHANNELS = ("grid_p_kw", "bess_soc_pct", "ev_p_kw")


class ReplaySource:
    """``only``: read just these channels (a compared run), else every plotted one."""

    def __init__(self, source: Results | str | Path, only: tuple[str, ...] | None = None) -> None:
        self.results = open_results(source)
        self.results_dir = self.results.folder
        self.meta = self.results.meta
        self.parts = self.results.parts
        self.total_rows = sum(self.results.part_rows())
        schema_names = self.results.column_names or ["t_s"]
        self.channels = Channels(SiteNames.from_columns(schema_names))
        self.names = list(only) if only else self.channels.names
        self._rows = [self.channels.index[name] for name in self.names]
        self.columns = [c for c in self.channels.columns_to_read(schema_names) if not only or c in ("t_s", *only)]
        self._next_part = 0

    @property
    def done(self) -> bool:
        return self._next_part >= len(self.parts)

    @property
    def progress(self) -> float:
        return self._next_part / len(self.parts) if self.parts else 1.0

    def read_next(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The next chunk as (t_s, channels x rows); None when everything is read."""
        if self.done:
            return None
        table = self.results.read_part(self._next_part, self.columns)
        self._next_part += 1
        t_s, block = self.channels.rows_from_table(table)
        return t_s, block[self._rows]

    def events(self) -> list[Event]:
        table = self.results.events
        if table.num_rows == 0:
            return []
        rows = table.select(list(Event._fields)).to_pylist()
        return sorted((Event(**row) for row in rows), key=lambda e: e.t_s)

    def verdicts(self) -> list[dict]:
        """The scenario's criteria as judged at the end of the run (``verdicts.json``; may be absent)."""
        return self.results.verdicts

    @property
    def duration_s(self) -> float:
        return float(self.meta.get("duration_s") or 0.0)

    @property
    def start_hour(self) -> float:
        start = dt.datetime.fromisoformat(self.meta["start"])
        return start.hour + start.minute / 60.0

    def site(self) -> Site | None:
        """The site the run used (``resolved.json``), for the site view; None for a folder without it."""
        site = self.results.resolved.get("site")
        return Site.model_validate(site) if site else None

    def limits(self) -> Limits:
        limits = self.results.resolved.get("site", {}).get("limits", {})
        return Limits(**{k: limits[k] for k in ("v_min_pu", "v_max_pu", "max_loading_pct") if k in limits})

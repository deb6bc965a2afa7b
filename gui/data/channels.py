"""What the GUI plots, as named channels, from a live ``Snapshot`` or from a recorded table.

Live and replay share one store and one set of panels, so both must yield the same
channels. Channel names follow the recorder's column names (``v_pu.mv``,
``trafo_loading_pct.T_truck``); totals over an array field keep the field's bare name
(``pv_p_kw`` = all PV arrays), which never clashes because the recorder always suffixes
array columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCALAR_FIELDS = ("grid_p_kw", "contract_limit_kw", "bess_p_kw", "bess_p_set_kw", "bess_soc_pct", "ev_p_kw",
                 "ev_cap_kw", "load_p_kw")
TOTAL_FIELDS = ("pv_available_kw", "pv_p_kw", "charger_connected")  # summed over their elements
ELEMENT_FIELDS = ("queue_len", "v_pu", "trafo_loading_pct", "line_loading_pct")  # one channel per element


@dataclass(frozen=True)
class SiteNames:
    """The element names that label array channels (from a twin, or from a recorded schema)."""

    vehicle_classes: tuple[str, ...]
    buses: tuple[str, ...]
    transformers: tuple[str, ...]
    lines: tuple[str, ...] = ()  # the feeder and the cables

    @classmethod
    def from_twin(cls, twin) -> SiteNames:
        return cls(tuple(c.name for c in twin.site.vehicles), tuple(twin.grid.bus_names),
                   tuple(twin.grid.trafo_names), tuple(twin.grid.line_names))

    @classmethod
    def from_columns(cls, columns: list[str]) -> SiteNames:
        def suffixes(field: str) -> tuple[str, ...]:
            return tuple(c.split(".", 1)[1] for c in columns if c.startswith(field + "."))

        return cls(suffixes("queue_len"), suffixes("v_pu"), suffixes("trafo_loading_pct"),
                   suffixes("line_loading_pct"))

    def elements(self, field: str) -> tuple[str, ...]:
        return {"queue_len": self.vehicle_classes, "v_pu": self.buses, "trafo_loading_pct": self.transformers,
                "line_loading_pct": self.lines}[field]


class Channels:
    """The ordered channel list and the two ways of filling it."""

    def __init__(self, names: SiteNames) -> None:
        self.site_names = names
        self.names: list[str] = [*SCALAR_FIELDS, *TOTAL_FIELDS]
        for field in ELEMENT_FIELDS:
            self.names += [f"{field}.{element}" for element in names.elements(field)]
        self.index = {name: i for i, name in enumerate(self.names)}
        n_scalar = len(SCALAR_FIELDS) + len(TOTAL_FIELDS)
        self._element_slices = []  # (field, slice of the row) for the per-element fields
        start = n_scalar
        for field in ELEMENT_FIELDS:
            width = len(names.elements(field))
            self._element_slices.append((field, slice(start, start + width)))
            start += width

    def __len__(self) -> int:
        return len(self.names)

    def fill_row(self, row: np.ndarray, snap) -> None:
        """Write one snapshot's channels into ``row`` (called in the worker, once per step)."""
        row[:len(SCALAR_FIELDS)] = [getattr(snap, field) for field in SCALAR_FIELDS]
        k = len(SCALAR_FIELDS)
        for field in TOTAL_FIELDS:
            row[k] = getattr(snap, field).sum()
            k += 1
        for field, part in self._element_slices:
            row[part] = getattr(snap, field)

    def columns_to_read(self, schema_names: list[str]) -> list[str]:
        """The recorded columns these channels need: replay reads nothing else."""
        wanted = {"t_s", *SCALAR_FIELDS}
        wanted.update(c for c in schema_names if c.split(".", 1)[0] in (*TOTAL_FIELDS, *ELEMENT_FIELDS))
        return [c for c in schema_names if c in wanted]

    def rows_from_table(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(t_s, channels x rows) from a recorded chunk."""
        block = np.full((len(self.names), table.num_rows), np.nan)
        columns = table.column_names
        for i, name in enumerate(self.names):
            if name in columns:
                block[i] = table.column(name).to_numpy()
            elif name in TOTAL_FIELDS:
                parts = [table.column(c) for c in columns if c.startswith(name + ".")]
                block[i] = np.sum([p.to_numpy() for p in parts], axis=0) if parts else np.nan
        t_s = pc.cast(table.column("t_s"), pa.float64()).to_numpy()
        return t_s, block


@dataclass(frozen=True)
class Limits:
    """Horizontal reference lines: what the site engineer checks the curves against."""

    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    max_loading_pct: float = 100.0

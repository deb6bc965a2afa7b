"""Monthly irradiation normals of a site from a station's daily record.

The reference sites' ``[climate]`` GHI normals come from the China Daily Solar Radiation
Dataset (CDSRD, buildingdata.xauat.edu.cn, github.com/buildingdata/cdsrd-dataset): daily
global and diffuse irradiation for 1,042 CMA stations, 1970-2017, one CSV per station
(``station,latitude(deg),longitude(deg),altitude(m),year,month,day,GHI(MJ/m2),DHI(MJ/m2)``).
``satwin normals STATION.csv --years 1991-2017`` prints the block to paste into a site
file, so the numbers in the site files can be re-derived by anyone with the same file.

A month's normal is the mean over the chosen years of that month's mean daily GHI (each
year weighs the same, whatever its missing days); a year needs ``MIN_DAYS_PCT`` of a
month's days to count for that month.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twin.config.errors import ScenarioError

MJ_PER_KWH = 3.6
MIN_DAYS_PCT = 80.0  # a month with fewer valid days does not count towards the normal
COLUMNS = ("station", "latitude_deg", "longitude_deg", "altitude_m", "year", "month", "day", "ghi_mj_m2", "dhi_mj_m2")


@dataclass(frozen=True)
class StationNormals:
    station: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    first_year: int
    last_year: int
    ghi_kwh_m2_day: tuple[float, ...]  # January first
    years_per_month: tuple[int, ...]  # how many years each month's normal averages

    @property
    def annual_kwh_m2(self) -> float:
        days = pd.Timestamp(2001, 1, 1) + pd.to_timedelta(np.arange(365), unit="D")
        return float(sum(self.ghi_kwh_m2_day[m - 1] for m in days.month))

    def toml(self, path: Path) -> str:
        ghi = ", ".join(f"{v:.2f}" for v in self.ghi_kwh_m2_day)
        return (f"# GHI: CDSRD station {self.station} ({self.latitude_deg:.2f} N, {self.longitude_deg:.2f} E, "
                f"{self.altitude_m:.0f} m), mean daily GHI of each month {self.first_year}-{self.last_year}, "
                f"annual {self.annual_kwh_m2:.0f} kWh/m2;\n"
                f"# derived with `satwin normals {path.name} --years {self.first_year}-{self.last_year}`\n"
                f"ghi_kwh_m2_day = [{ghi}]")


def read_station(path: Path) -> pd.DataFrame:
    """A CDSRD station file, with a clear error for anything else."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "file", f"cannot read a station CSV: {str(exc).strip()}") from None
    if len(frame.columns) != len(COLUMNS):
        raise ScenarioError(path, "header", f"expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), "
                                             f"found {len(frame.columns)}: {', '.join(map(str, frame.columns))}")
    frame.columns = list(COLUMNS)
    for column in ("year", "month", "day", "ghi_mj_m2"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if frame.year.isna().all():
        raise ScenarioError(path, "year", "no rows with a numeric year")
    bad_month = ~frame.month.between(1, 12)
    if bad_month.any():
        row = int(bad_month.idxmax()) + 2  # 1-based, after the header line
        raise ScenarioError(path, f"line {row}", f"month must be 1-12, got {frame.month[bad_month].iloc[0]:g}")
    return frame


def monthly_normals(path: Path, first_year: int, last_year: int) -> StationNormals:
    frame = read_station(path)
    covered = (int(frame.year.min()), int(frame.year.max()))
    if first_year < covered[0] or last_year > covered[1]:
        raise ScenarioError(path, "year", f"{first_year}-{last_year} is not inside the record "
                                           f"(the file covers {covered[0]}-{covered[1]})")
    span = frame[(frame.year >= first_year) & (frame.year <= last_year)]
    valid = span[(span.ghi_mj_m2 >= 0) & span.ghi_mj_m2.notna()]
    per_month = valid.groupby(["year", "month"]).ghi_mj_m2.agg(["mean", "size"])
    days_in_month = [pd.Period(year=int(y), month=int(m), freq="M").days_in_month for y, m in per_month.index]
    per_month = per_month[per_month["size"] >= np.asarray(days_in_month) * MIN_DAYS_PCT / 100.0]
    by_month = per_month.groupby(level="month")["mean"]
    missing = sorted(set(range(1, 13)) - set(by_month.groups))
    if missing:
        raise ScenarioError(path, "month", f"no year in {first_year}-{last_year} has {MIN_DAYS_PCT:.0f} % of the days "
                                            f"of month(s) {', '.join(map(str, missing))}")
    return StationNormals(
        station=str(frame.station.iloc[0]), latitude_deg=float(frame.latitude_deg.iloc[0]),
        longitude_deg=float(frame.longitude_deg.iloc[0]), altitude_m=float(frame.altitude_m.iloc[0]), first_year=first_year, last_year=last_year,
        ghi_kwh_m2_day=tuple(round(float(v) / MJ_PER_KWH, 2) for v in by_month.mean().sort_index()),
        years_per_month=tuple(int(n) for n in by_month.size().sort_index()))

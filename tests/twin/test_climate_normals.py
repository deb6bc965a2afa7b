"""Monthly GHI normals from a station's daily file (CDSRD format), as `satwin normals` prints them."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from twin.app.climate_normals import monthly_normals
from twin.config.errors import ScenarioError

HEADER = "station,latitude(deg),longitude(deg),altitude(m),year,month,day,GHI(MJ/m2),DHI(MJ/m2)"


def station_file(path, years, ghi_mj_m2):
    """A station file whose daily GHI is ``ghi_mj_m2(day)``; None leaves the day out."""
    lines = [HEADER]
    for day in pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31", freq="D"):
        value = ghi_mj_m2(day)
        if value is not None:
            lines.append(f"59446,22.4166667,109.3,67.8,{day.year},{day.month},{day.day},{value},1.0")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_month_is_the_mean_over_the_years(tmp_path):
    # month m of year y: (m + (y - 2000)) kWh/m2 a day, so 2000-2001 averages to m + 0.5
    path = station_file(tmp_path / "s.csv", (1999, 2000, 2001, 2002), lambda d: 3.6 * (d.month + d.year - 2000))
    found = monthly_normals(path, 2000, 2001)
    assert found.ghi_kwh_m2_day == pytest.approx([m + 0.5 for m in range(1, 13)])
    assert found.years_per_month == (2,) * 12
    assert found.station == "59446" and found.latitude_deg == pytest.approx(22.4167, abs=1e-4)
    assert found.annual_kwh_m2 == pytest.approx(sum(pd.Period(f"2001-{m:02d}").days_in_month * (m + 0.5)
                                                    for m in range(1, 13)))


def test_a_month_with_too_few_valid_days_does_not_count(tmp_path):
    # in 2001, July has only 10 days and March's are all flagged negative (missing)
    def ghi(day):
        if day.year == 2001 and day.month == 7 and day.day > 10:
            return None
        if day.year == 2001 and day.month == 3:
            return -1.0
        return 3.6 * (10.0 if day.year == 2001 else 2.0)

    found = monthly_normals(station_file(tmp_path / "s.csv", (2000, 2001), ghi), 2000, 2001)
    assert found.ghi_kwh_m2_day[6] == pytest.approx(2.0) and found.ghi_kwh_m2_day[2] == pytest.approx(2.0)
    assert found.ghi_kwh_m2_day[0] == pytest.approx(6.0)
    assert found.years_per_month[2] == 1 and found.years_per_month[6] == 1 and found.years_per_month[0] == 2


def test_mistakes_name_the_file_and_what_is_wrong(tmp_path):
    path = station_file(tmp_path / "s.csv", (2000,), lambda d: 10.0)
    with pytest.raises(ScenarioError, match=r"s\.csv: year: 2010-2012 is not inside the record \(the file covers 2000-2000\)"):
        monthly_normals(path, 2010, 2012)
    with pytest.raises(ScenarioError, match=r"1999-2000 is not inside the record"):  # partly outside: refused too
        monthly_normals(path, 1999, 2000)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ScenarioError, match=r"empty\.csv: file: cannot read a station CSV"):
        monthly_normals(empty, 2000, 2000)
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER + "\n")
    with pytest.raises(ScenarioError, match=r"header\.csv: year: no rows with a numeric year"):
        monthly_normals(header_only, 2000, 2000)
    month_13 = tmp_path / "m13.csv"
    month_13.write_text(HEADER + "\n59446,22.4,109.3,67.8,2000,13,1,10.0,1.0\n")
    with pytest.raises(ScenarioError, match=r"m13\.csv: line 2: month must be 1-12, got 13"):
        monthly_normals(month_13, 2000, 2000)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ScenarioError, match=r"other\.csv: header: expected 9 columns"):
        monthly_normals(other, 2000, 2001)
    gap = station_file(tmp_path / "gap.csv", (2000,), lambda d: None if d.month == 12 else 10.0)
    with pytest.raises(ScenarioError, match=r"month\(s\) 12"):
        monthly_normals(gap, 2000, 2000)


def test_the_command_prints_the_site_file_lines(tmp_path):
    path = station_file(tmp_path / "59446.csv", (2000, 2001), lambda d: 3.6 * d.month)
    done = subprocess.run([sys.executable, "-m", "twin", "normals", str(path), "--years", "2000-2001"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ghi_kwh_m2_day = [1.00, 2.00, 3.00, 4.00, 5.00, 6.00, 7.00, 8.00, 9.00, 10.00, 11.00, 12.00]" in done.stdout
    assert "`satwin normals 59446.csv --years 2000-2001`" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "twin", "normals", str(path), "--years", "2001"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--years: expected FIRST-LAST" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr

"""``satwin compare``: runs side by side with differences, Markdown and self-contained HTML."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from twin.run.session import run_scenario


@pytest.fixture(scope="module")
def two_runs(holiday, tmp_path_factory):
    root = tmp_path_factory.mktemp("side")
    short = holiday.with_options(step_s=300.0, duration_s=6 * 3600.0)
    for controller in ("peak-shaving", "none"):
        run_scenario(short.with_options(controller=controller), root / controller)
    return root


def _satwin(*args):
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=300)


def test_compare_writes_markdown_and_self_contained_html_with_differences(two_runs):
    out = two_runs / "cmp"
    done = _satwin("compare", str(two_runs / "peak-shaving"), str(two_runs / "none"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    md = (out / "comparison.md").read_text()
    a = json.loads((two_runs / "peak-shaving" / "kpi.json").read_text())
    b = json.loads((two_runs / "none" / "kpi.json").read_text())
    row = next(line for line in md.splitlines() if line.startswith("| Energy imported | kWh"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == [f"{a['energy_imported_kwh']:.0f}", f"{b['energy_imported_kwh']:.0f}",
                         f"{b['energy_imported_kwh'] - a['energy_imported_kwh']:+.0f}"]
    assert "| controller | peak-shaving | none |" in md
    assert "## Acceptance criteria" in md and "grid_import_kw.max_15min" in md
    page = (out / "comparison.html").read_text()
    assert "data:image/png;base64," in page
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing outside the file
    assert (out / "comparison.png").stat().st_size > 10_000


def test_compare_refuses_a_folder_that_is_not_a_run(two_runs, tmp_path):
    done = _satwin("compare", str(two_runs / "none"), str(tmp_path))
    assert done.returncode == 2 and "not a results folder" in done.stderr and "Traceback" not in done.stderr
    assert _satwin("compare", str(two_runs / "none")).returncode == 2

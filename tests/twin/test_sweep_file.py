"""Sweep files: schema, expansion (grid, random, Latin hypercube), seeds, statistics, bisection."""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS
from tests.e2e.test_cli_run import satwin
from twin.app.sweep.expand import expand, points
from twin.app.sweep.find_min import bisect
from twin.config.errors import ScenarioError
from twin.config.sweep import load_sweep, parse_stat_criterion
from twin.results.sweep_stats import judge_stat, wilson_interval

SCENARIO = (SCENARIOS / "holiday-peak-xianshan.toml").as_posix()


def sweep_file(tmp_path, body: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(f'name = "t"\nscenarios = ["{SCENARIO}"]\n' + body)
    return path


def test_grid_of_a_list_and_a_range(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "seeds = 3\n[parameters]\nbess.e_kwh = [1000, 2000]\n"
                                            "traffic.multiplier.car = {from = 1, to = 2, step = 0.5}\n"))
    assert [tuple(p.values()) for p in points(sweep)] == [(1000, 1.0), (1000, 1.5), (1000, 2.0),
                                                          (2000, 1.0), (2000, 1.5), (2000, 2.0)]
    tasks = expand(sweep)
    assert len(tasks) == 18 and len({t.key for t in tasks}) == 18
    # common random numbers: every point sees the same three seeds
    assert {t.seed for t in tasks if t.point == 0} == {t.seed for t in tasks if t.point == 5}


@pytest.mark.parametrize("method", ["random", "lhs"])
def test_sampled_points_are_seeded_and_in_range(tmp_path, method):
    body = (f'[sampling]\nmethod = "{method}"\nsamples = 16\nseed = 4\n[parameters]\n'
            'bess.e_kwh = {from = 1000, to = 3000, step = 100}\n"chargers[0].count" = {from = 2, to = 14, integer = true}\n'
            'traffic.multiplier.car = {from = 1, to = 3}\n')
    first, again = (points(load_sweep(sweep_file(tmp_path, body, f"{n}.toml"))) for n in "ab")
    assert first == again and len(first) == 16
    assert all(1000 <= p["bess.e_kwh"] <= 3000 and p["bess.e_kwh"] % 100 == 0 for p in first)
    assert all(isinstance(p["chargers[0].count"], int) and 2 <= p["chargers[0].count"] <= 14 for p in first)
    strata = sorted(int((p["traffic.multiplier.car"] - 1) / 2 * 16) for p in first)
    if method == "lhs":  # a Latin hypercube puts one sample in each of the 16 strata of every parameter
        assert strata == list(range(16))
    else:
        assert strata != list(range(16))  # plain random samples clump (this seed shows it)


def test_listed_seeds_are_used_as_given(tmp_path):
    tasks = expand(load_sweep(sweep_file(tmp_path, "seeds = [1, 2, 3]\n")))
    assert [t.seed for t in tasks] == [1, 2, 3]


@pytest.mark.parametrize("body, field", [
    ("[parameters]\nbess.e_kwh = [1000, -5]\n", "parameters.bess.e_kwh"),
    ("[parameters]\nbes.e_kwh = [1000]\n", "parameters.bes.e_kwh"),
    ("[parameters]\nbess.e_kwh = {from = 1000, to = 2000}\n", "parameters.bess.e_kwh"),
    ('criteria = ["p95(no_such_kpi) <= 1"]\n', "criteria"),
    ("seedz = 3\n", "seedz"),
    ('[sampling]\nmethod = "lhs"\n', "sampling"),
    ('[set]\nstep = "2h"\n[parameters]\nbess.e_kwh = [1000]\n', "set.step"),
])
def test_a_bad_sweep_file_is_one_error_naming_the_field(tmp_path, body, field):
    path = sweep_file(tmp_path, body)
    with pytest.raises(ScenarioError) as caught:
        expand(load_sweep(path))
    assert caught.value.file == str(path) and caught.value.field == field


def test_a_bad_sweep_file_on_the_command_line(tmp_path):
    path = sweep_file(tmp_path, "[parameters]\nbess.e_kwh = [1000, -5]\n")
    done = satwin("sweep", str(path), "--out", str(tmp_path / "out"), "--serial")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: {path}: parameters.bess.e_kwh: -5:")
    assert not (tmp_path / "out" / "runs").exists()


def test_rows_per_file_below_one_is_refused_before_anything_runs(tmp_path):
    path = sweep_file(tmp_path, "[parameters]\nbess.e_kwh = [1000]\n")
    done = satwin("sweep", str(path), "--out", str(tmp_path / "out"), "--serial", "--rows-per-file", "0")
    assert done.returncode == 2 and "--rows-per-file: must be at least 1" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out" / "runs").exists()


def test_wilson_interval():
    low, high = wilson_interval(0, 20)
    assert low == 0 and high == pytest.approx(0.161, abs=1e-3)  # the textbook value for 0 of 20
    low, high = wilson_interval(10, 20)
    assert low == pytest.approx(0.299, abs=1e-3) and high == pytest.approx(0.701, abs=1e-3)


def test_statistical_criteria():
    rows = [{"status": "completed", "peak_15min_demand_kw": float(v), "minutes_over_contract": m}
            for v, m in zip(range(2400, 2600, 10), [9, 9] + [0] * 18)]
    p95 = judge_stat(parse_stat_criterion("p95(grid_import_kw.max_15min) <= 2585"), rows)
    assert p95.measured == pytest.approx(2580.5) and p95.passed
    rate = judge_stat(parse_stat_criterion("fail_rate(minutes_over_contract <= 5) <= 0.05"), rows)
    assert rate.measured == 0.1 and not rate.passed and rate.low < 0.1 < rate.high
    joint = parse_stat_criterion("fail_rate(minutes_over_contract <= 5 and peak_15min_demand_kw <= 2500) <= 0.5")
    assert judge_stat(joint, rows).measured == 0.55  # 2 runs over 5 min + 9 runs over 2500 kW
    crashed = rows + [{"status": "failed"}]
    assert judge_stat(parse_stat_criterion("fail_rate(minutes_over_contract <= 5) <= 1"), crashed).measured == 3 / 21
    with pytest.raises(ValueError):
        parse_stat_criterion("fail_rate(minutes_over_contract <= 5) <= 5")


def test_bisection_finds_the_smallest_passing_value():
    tried = []

    def judge(v):
        tried.append(v)
        return v >= 1700

    values = list(range(1000, 3001, 100))
    assert bisect("x", values, judge).answer == 1700 and len(tried) <= 7
    assert bisect("x", [1000, 1200], lambda v: False).answer is None


def test_the_defaults_docs_quote_are_the_code_s():
    import inspect
    import re

    from tests.conftest import ROOT
    from twin.app.sweep.table import RowWriter
    from twin.config.sweep import Sampling, SweepFile

    doc = (ROOT / "docs" / "sweeps.md").read_text()
    quoted = dict(re.findall(r"^\| `([a-z_.]+)` \| `([^`]+)` \|", doc, re.M))
    assert set(quoted) == {"seeds", "seed", "sampling.method", "sampling.seed", "retries"}
    for name, default in quoted.items():
        model, field = (Sampling, name.split(".")[1]) if name.startswith("sampling.") else (SweepFile, name)
        assert str(model.model_fields[field].default) == default, name
    writer = inspect.signature(RowWriter).parameters
    assert f"every {writer['batch'].default} rows or {writer['every_s'].default:g} s" in doc
    assert "`--rows-per-file 1`" in doc and "--rows-per-file" in satwin("sweep", "--help").stdout


def test_the_shipped_sweeps_are_valid():
    paths = sorted((SCENARIOS / "sweeps").glob("*.toml"))
    done = satwin("validate", *map(str, paths))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("(sweep of ") == len(paths) >= 3


def test_a_run_without_keep_runs_leaves_no_folder_and_has_the_row_of_a_kept_run(tmp_path, monkeypatch):
    """Without ``--keep-runs`` a sweep's run records into a temporary folder, removed with it;
    its row (KPIs, verdicts) is that of the same run kept with report, plot and recording."""
    import tempfile

    from twin.app.sweep.worker import run_point

    sweep = load_sweep(sweep_file(tmp_path, 'seeds = 1\ncriteria = ["p95(peak_15min_demand_kw) <= 100000"]\n'
                                            '[set]\nstep = "5min"\nduration = "3h"\n'
                                            'start = 2027-02-13T15:00:00+08:00\n'))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lean = run_point(expand(sweep)[0])
    kept = run_point(expand(sweep, run_root=tmp_path / "runs-data")[0])
    assert list(scratch.iterdir()) == []
    assert list((tmp_path / "runs-data").rglob("report.md")) and list((tmp_path / "runs-data").rglob("*.parquet"))
    lean.pop("wall_s"), kept.pop("wall_s")
    assert lean["status"] == "completed" and lean == kept

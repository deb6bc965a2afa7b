"""Property: a mutated shipped file is either valid and runs, or one clear error naming file and field.

Every shipped site, scenario and published-figures file is broken one way at a time
(a deleted line, a wrong type, nan/inf/negative/huge numbers, an unknown key, a duplicate
table, binary garbage, a truncated file, bad spans) and checked as ``satwin validate``
checks it. A file that validates must then run a few steps. Each case is bounded by an
alarm, so a hang fails the case instead of the suite. ``SATWIN_FUZZ_EXAMPLES`` sets the
number of examples (CI default below), ``SATWIN_FUZZ_SEED`` draws other ones; the outcome
counts are printed at the end and recorded as JUnit properties.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.twin.shipped_files import assert_clear_error, copy_tree, shipped_files
from twin.app.validate import check_file
from twin.config.errors import ScenarioError, SimulationError
from twin.config.files import read_toml
from twin.config.scenario import load_scenario
from twin.model.controllers import make_controller
from twin.model.core import Twin
from twin.run.loop import builtin_control, run_loop

EXAMPLES = int(os.environ.get("SATWIN_FUZZ_EXAMPLES", "300"))
SEED = os.environ.get("SATWIN_FUZZ_SEED")  # explore other examples; CI runs the same ones every time
CASE_LIMIT_S = 60  # a case that takes longer than this is a hang (a valid case validates and runs 3 steps)
SHORT_RUN_STEPS = 3

VALUES = ["nan", "inf", "-inf", "-1", "0", "-0.0", "1e308", "-1e308", "1e-300", "1e30", "9223372036854775807",
          '"x"', '""', "true", "[]", "{}", "[1, 2]", '"1e30s"', '"-5min"', '"nan"', '"999999d"', '"0.01s"',
          "9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z", '"../../elsewhere"', '"a b.c"', "0.5", "3", "24",
          '"1h"']
KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=")
TABLE_LINE = re.compile(r"^\s*\[[^\[\]]+\]\s*(#.*)?$")


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"case took longer than {CASE_LIMIT_S} s")


@st.composite
def mutations(draw, files: list[Path]) -> tuple[Path, bytes]:
    """One shipped file and a broken version of its bytes."""
    path = draw(st.sampled_from(files))
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if KEY_LINE.match(line)]
    tables = [i for i, line in enumerate(lines) if TABLE_LINE.match(line)]
    kind = draw(st.sampled_from(["value", "value", "value", "delete", "unknown_key", "duplicate_table", "garbage",
                                 "truncate", "empty"]))
    if kind == "value":
        i = draw(st.sampled_from(keyed))
        lines[i] = f"{KEY_LINE.match(lines[i]).group(1)} = {draw(st.sampled_from(VALUES))}\n"
    elif kind == "delete":
        del lines[draw(st.sampled_from(keyed))]
    elif kind == "unknown_key":
        lines.insert(draw(st.sampled_from(keyed)), f"{draw(st.from_regex(r'[a-z_]{1,12}', fullmatch=True))} = 1\n")
    elif kind == "duplicate_table" and tables:
        lines.append(lines[draw(st.sampled_from(tables))])
    elif kind == "garbage":
        data = "".join(lines).encode()
        at = draw(st.integers(0, len(data)))
        return path, data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    elif kind == "truncate":
        return path, "".join(lines).encode()[:draw(st.integers(0, len(text) - 1))]
    elif kind == "empty":
        return path, b""
    return path, "".join(lines).encode()


def scenario_using(tree: Path, path: Path) -> Path | None:
    """The file whose short run shows that a valid ``path`` also works: itself, or a scenario on that site."""
    if path.parent == tree and "site" in read_toml(path):
        return path
    if path.parent.name == "sites":
        for candidate in sorted(tree.glob("*.toml")):
            if read_toml(candidate).get("site") == f"sites/{path.name}":
                return candidate
    return None  # published figures: checked by validate, nothing to run


def short_run(scenario_path: Path) -> str:
    scenario = load_scenario(scenario_path)
    scenario = scenario.with_options(duration_s=SHORT_RUN_STEPS * scenario.step_s)
    twin = Twin(scenario)
    stats = run_loop(twin, builtin_control(make_controller(scenario.controller, twin.site_info)), [])
    assert stats.steps == SHORT_RUN_STEPS
    return "valid, ran"


def outcome_of(tree: Path, path: Path) -> str:
    referenced = [path, *(tree / "sites").glob("*.toml"), tree / "published.toml"]
    try:
        check_file(path)
    except ScenarioError as exc:
        assert_clear_error(exc, referenced)
        return "clear error"
    runnable = scenario_using(tree, path)
    if runnable is None:
        return "valid"
    try:
        return short_run(runnable)
    except SimulationError as exc:  # the inputs are in range but the network cannot carry them: one line, exit 1
        assert "\n" not in str(exc)
        return "valid, run failed cleanly"


def test_mutated_shipped_files_are_valid_or_one_clear_error(tmp_path_factory, capsys, record_property):
    tree = copy_tree(tmp_path_factory.mktemp("fuzz"))
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @seed(int(SEED or 0))
    @given(mutations(shipped_files(tree)))
    def case(mutation: tuple[Path, bytes]) -> None:
        path, data = mutation
        original = path.read_bytes()
        path.write_bytes(data)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CASE_LIMIT_S)
        try:
            outcomes[outcome_of(tree, path)] += 1
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            path.write_bytes(original)

    case()
    summary = ", ".join(f"{count} {name}" for name, count in outcomes.most_common())
    record_property("fuzz_examples", sum(outcomes.values()))
    record_property("fuzz_outcomes", summary)
    with capsys.disabled():
        print(f"\nfuzz: {sum(outcomes.values())} mutated files: {summary}")
    assert outcomes["clear error"] > 0 and outcomes["valid, ran"] > 0

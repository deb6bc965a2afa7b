"""replay-controller: a recorded controller's writes against the same twin reproduce the run
exactly; against a changed site they show what changed."""

from __future__ import annotations

import sys

import pytest
from hil_rig import DATA

from hil.acceptance import run_with_external_controller
from hil.datastore.audit import read_audit
from hil.replay import replay_controller
from twin.config.scenario import load_scenario

REFERENCE = f"{sys.executable} -m twin controller --host {{host}} --port {{port}}"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    scenario = load_scenario(DATA / "evening-peak.toml").with_options(duration_s=1800.0).model_copy(
        update={"criteria": ("grid_import_kw.max_15min <= 3900", "minutes_over_contract <= 0")})
    out = tmp_path_factory.mktemp("recorded") / "run"
    result = run_with_external_controller(scenario, out, REFERENCE, clock="lockstep")
    assert result.status == "completed"
    return out, scenario


def test_the_audit_summarises_heartbeats_and_keeps_function_codes(recorded):
    out, scenario = recorded
    audit = read_audit(out / "modbus_audit.jsonl")
    beats = [line for line in audit if line.get("kind") == "heartbeats"]
    assert beats and sum(b["count"] for b in beats) == scenario.n_steps - 1  # every step but the last
    writes = [line for line in audit if "kind" not in line]
    assert writes and {w["function"] for w in writes} == {16}
    assert all(w["result"] == "ok" and w["count"] == len(w["values"]) for w in writes)


def test_replay_of_an_unchanged_twin_reproduces_the_kpis_exactly(recorded, tmp_path):
    out, _ = recorded
    result = replay_controller(out, tmp_path / "replay")
    assert result.changed_kpis() == [] and result.changed_verdicts() == []
    assert result.refused == [] and result.writes > 0


def test_replay_against_a_changed_site_shows_the_difference(recorded, tmp_path):
    out, scenario = recorded
    site_text = scenario.site_path.read_text()
    assert "contract_limit_kw = 4000" in site_text
    smaller = tmp_path / "site.toml"
    smaller.write_text(site_text.replace("contract_limit_kw = 4000", "contract_limit_kw = 3000"))
    changed = scenario.with_options(site_path=smaller)
    result = replay_controller(out, tmp_path / "replay", changed)
    figures = {key for key, _, _ in result.changed_kpis()}
    assert {"contract_limit_kw", "minutes_over_contract"} <= figures
    assert ("minutes_over_contract <= 0", True, False) in result.changed_verdicts()

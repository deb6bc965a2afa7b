"""The generated site reference and data dictionary: complete, and never stale."""

from __future__ import annotations

from dataclasses import fields

from tests.conftest import HOLIDAY, run_twin
from twin.app.reference import data_dictionary_md, site_reference_md, stale_docs
from twin.config.reference import undocumented_fields
from twin.config.scenario import load_scenario
from twin.model.core import Snapshot
from twin.run.dictionary import COLUMNS, EVENTS


def test_generated_docs_are_up_to_date():
    assert stale_docs() == [], "run: satwin reference --write"


def test_every_site_field_is_documented_with_unit_default_and_range():
    assert undocumented_fields() == []
    text = site_reference_md()
    row = next(line for line in text.splitlines() if line.startswith("| `azimuth_deg`"))
    assert "°" in row and "`180.0`" in row and "≥ 0, < 360" in row and "180 = south" in row
    row = next(line for line in text.splitlines() if line.startswith("| `contract_limit_kw`"))
    assert "| kW |" in row and "**required**" in row and "> 0" in row
    assert "## [[chargers]]" in text and "## [limits]" in text and "## [utility]" in text
    assert "97.5%" in text  # the inverter efficiency, quoted from the code


def test_every_recorded_column_and_event_kind_is_in_the_dictionary():
    assert set(COLUMNS) == {f.name for f in fields(Snapshot)} - {"comms_lost"}
    scenario = load_scenario(HOLIDAY).with_options(step_s=60.0, duration_s=6 * 3600.0)
    twin, _ = run_twin(scenario)
    kinds = {event.kind for event in twin.log.drain()}
    assert kinds and kinds <= set(EVENTS)
    assert all(f"`{kind}`" in data_dictionary_md() for kind in EVENTS)

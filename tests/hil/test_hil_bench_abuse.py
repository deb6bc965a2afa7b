"""``satwin bench abuse`` runs every phase end to end (figures are printed, never asserted here)."""

from __future__ import annotations

from hil.bench_abuse import PHASES, bench_abuse


def test_every_phase_runs_and_no_malformed_frame_wedges_a_connection():
    lines: list[str] = []
    figures = bench_abuse(phase_s=1.0, frames=240, echo=lines.append)
    assert [phase for phase in figures if phase != "lateness"] == list(PHASES)
    assert all(figures[phase]["requests"] > 0 for phase in PHASES)  # the good client was served throughout
    malformed = figures["malformed"]["outcomes"]
    assert sum(malformed.values()) == 240
    assert not any(result == "no answer (wedged)" for _, result in malformed)
    assert {result for _, result in malformed} == {"closed", "exception 01", "exception 02", "exception 03",
                                                  "exception 0b"}
    flood = figures["write flood"]["outcomes"]
    assert flood[("heartbeat write", "answered")] == flood[("heartbeat write", "sent")] > 0
    assert any(line.startswith("good client p99") for line in lines)

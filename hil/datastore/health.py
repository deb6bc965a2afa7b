"""The controller's health, as verdicts: it did not go silent, trip the watchdog or fall behind.

A controller that stays connected but stops its heartbeat used to fail only through the
energy criteria, if at all. The datastore tells this tracker, step by step, when the last
heartbeat came, when the watchdog tripped and recovered and which lockstep steps were not
acknowledged in time; ``verdicts`` turns that into explicit, windowed verdicts for
``verdicts.json``, JUnit and the suite summary.

*Silence* is judged against the site's ``[watchdog] heartbeat_timeout_s`` even when a run
uses a longer watchdog timeout, so a lenient bench setting cannot hide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.results.verdicts import Verdict

Window = tuple[float, float]


@dataclass
class ControllerHealth:
    site_timeout_s: float
    step_s: float
    silences: dict[float, float] = field(default_factory=dict)  # last heartbeat s -> last step still silent
    trips: list[list[float]] = field(default_factory=list)  # [tripped at, recovered at (or end)]
    late_steps: list[float] = field(default_factory=list)  # end times of steps not acknowledged in time
    lockstep: bool = False
    lockstep_timeout_s: float = 0.0
    consecutive_late: int = 0  # steps in a row released by the lockstep timeout, as of the last one

    def observe(self, now_s: float, last_beat_s: float) -> None:
        if now_s - last_beat_s > self.site_timeout_s:
            self.silences[last_beat_s] = now_s

    def tripped(self, now_s: float) -> None:
        self.trips.append([now_s, float("nan")])

    def recovered(self, now_s: float) -> None:
        if self.trips:
            self.trips[-1][1] = now_s

    def step_late(self, step_end_s: float, in_a_row: int) -> None:
        self.late_steps.append(step_end_s)
        self.consecutive_late = in_a_row

    def verdicts(self, end_s: float, problems: list[str] | None = None) -> list[Verdict]:
        """``problems``: what went wrong with the controller's process (None: no process was watched)."""
        silences = [(start, end) for start, end in sorted(self.silences.items())]
        longest_s = max((end - start for start, end in silences), default=0.0)
        trips = [(start, end_s if end != end else end) for start, end in self.trips]  # nan: still tripped
        verdicts = [
            Verdict(f"controller healthy: heartbeat at least every {self.site_timeout_s:g} s (the site's watchdog "
                    "timeout)", longest_s, not silences, tuple(silences),
                    "" if not silences else f"silent {len(silences)} time(s), longest {longest_s:g} s"),
            Verdict("controller healthy: no watchdog trip", float(len(trips)), not trips, tuple(trips),
                    "" if not trips else "safe state in force"),
        ]
        if problems is not None:
            verdicts.insert(0, Verdict("controller healthy: ran until the end", float(len(problems)), not problems,
                                       (), "; ".join(problems)))
        if self.lockstep:
            late = tuple((t - self.step_s, t) for t in self.late_steps)
            verdicts.append(Verdict(f"controller_kept_up: every lockstep step acknowledged within "
                                    f"{self.lockstep_timeout_s:g} s", float(len(late)), not late, late,
                                    "" if not late else f"{len(late)} step(s) released by the timeout"))
        return verdicts

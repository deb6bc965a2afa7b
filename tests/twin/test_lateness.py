"""Lateness in constant memory, and what a clock does when the machine cannot keep its speed."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time

import numpy as np
import pytest

from twin.run.lateness import BINS_PER_DECADE, LatenessHistogram
from twin.run.loop import BEHIND_NICE, RunStats, WallClock


def test_histogram_percentiles_are_within_one_bin_of_the_exact_ones():
    rng = np.random.default_rng(18)
    samples = np.concatenate([rng.lognormal(-7, 1.5, 50_000), [0.0] * 1000, [2.5]])
    histogram = LatenessHistogram()
    for value in samples:
        histogram.add(float(value))
    bin_ratio = 10 ** (1 / BINS_PER_DECADE)
    for q in (50, 90, 99):
        exact = np.percentile(samples, q)
        assert exact <= histogram.percentile_s(q) <= exact * bin_ratio * bin_ratio
    assert histogram.max_s == 2.5 and len(histogram) == len(samples)


def test_the_histogram_does_not_grow_with_the_run():
    stats = RunStats()
    size = stats.lateness.counts.nbytes
    for _ in range(100_000):
        stats.lateness.add(1e-3)
    assert stats.lateness.counts.nbytes == size
    assert stats.lateness_summary_ms()["max_ms"] == pytest.approx(1.0)


def test_an_overrun_is_reported_at_once_and_warn_catches_up():
    heard: list[str] = []
    clock = WallClock(speed=1000.0, overrun="warn", on_overrun=heard.append)  # a 1 s step is 1 ms of wall time
    clock.start()
    time.sleep(0.05)  # a step that took 50 wall steps
    late_s = clock.wait_until(1.0)
    assert late_s > 0.001 and len(heard) == 1 and "cannot keep 1000x" in heard[0]
    assert clock.wait_until(2.0) > 0  # still behind: the next step runs at once, to catch up
    assert len(heard) == 1  # reminded at most once a minute, not every step
    clock.end()  # as the run loop does: this thread's priority back (an overrun lowered it)


def test_slow_moves_the_clock_on_instead_of_catching_up():
    heard: list[str] = []
    clock = WallClock(speed=1000.0, overrun="slow", on_overrun=heard.append)
    clock.start()
    time.sleep(0.05)
    first_s = clock.wait_until(1.0)
    assert clock.wait_until(2.0) < first_s  # paced again from where it was, not still 50 steps behind
    assert "running slower" in heard[0]
    clock.end()


def test_stop_reports_every_overrun_so_the_caller_can_end_the_run():
    heard: list[str] = []
    clock = WallClock(speed=1000.0, overrun="stop", on_overrun=heard.append)
    clock.start()
    time.sleep(0.05)
    clock.wait_until(1.0)
    assert heard and "--overrun stop" in heard[0]
    clock.end()


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="warn, slow, stop"):
        WallClock(overrun="sometimes")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own priority on Linux only")
def test_an_overrunning_clock_lowers_its_own_thread_only_until_the_run_ends():
    """Behind the wall clock the twin's thread gives way: it runs ``BEHIND_NICE`` levels lower
    from its first overrun, a thread started before it (a server) keeps its priority, and the
    run's end puts it back where the OS allows (raising a priority again needs privilege)."""
    seen: dict[str, int] = {}
    server_may_look, server_looked = threading.Event(), threading.Event()

    def server() -> None:
        seen["server before"] = _nice()
        server_may_look.wait(10)
        seen["server during"] = _nice()
        server_looked.set()

    def twin() -> None:
        clock = WallClock(speed=100.0)  # a 1 s step is 10 ms of wall time
        clock.start()
        seen["twin before"] = _nice()
        clock.wait_until(30.0)  # due 0.3 s after the start: on time, not lowered
        seen["twin on time"] = _nice()
        time.sleep(0.5)  # a step that took 50 wall steps
        clock.wait_until(31.0)
        seen["twin behind"] = _nice()
        server_may_look.set()
        server_looked.wait(10)
        clock.wait_until(32.0)  # still behind: lowered once, not again
        seen["twin still behind"] = _nice()
        clock.end()
        seen["twin after"] = _nice()

    threads = [threading.Thread(target=server), threading.Thread(target=twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    before = seen["twin before"]
    if before >= 19:
        pytest.skip("this process already runs at the lowest priority")
    lowered = min(19, before + BEHIND_NICE)
    assert seen["twin on time"] == before
    assert seen["twin behind"] == seen["twin still behind"] == lowered
    assert seen["server during"] == seen["server before"] == before
    may_raise = os.geteuid() == 0 or 20 - resource.getrlimit(resource.RLIMIT_NICE)[0] <= before
    assert seen["twin after"] == (before if may_raise else lowered)

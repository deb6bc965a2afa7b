"""The twin's SimPy environment: dead timeouts do not cut charging parts, ``run_before`` is ``run(until)``."""

from __future__ import annotations

import simpy

from twin.model.clock import SiteEnvironment


def _visit(env, log, name, got_s, limit_s):
    """A vehicle that waits for ``got`` or gives up at ``limit``: the loser of the race is a dead timeout."""
    got = env.timeout(got_s)
    yield got | env.timeout(limit_s)
    log.append((env.now, name))


def test_a_timeout_that_lost_its_race_is_not_a_part_boundary():
    env, log = SiteEnvironment(), []
    env.process(_visit(env, log, "a", got_s=5.0, limit_s=100.0))  # its 100 s limit dies at 5 s
    env.process(_visit(env, log, "b", got_s=40.0, limit_s=200.0))
    env.run_before(6.0)
    assert log == [(5.0, "a")]
    assert env.next_live_s() == 40.0  # not a's dead limit at 100 s
    env.run_before(41.0)
    assert log == [(5.0, "a"), (40.0, "b")] and env.now == 41.0
    assert env.next_live_s() == float("inf")  # b's dead limit at 200 s neither


def test_run_before_processes_what_run_until_does_and_stands_the_clock_at_the_end():
    def ticker(env, log):
        for k in range(12):
            yield env.timeout(2.5)
            log.append((env.now, k))
            if k % 3 == 0:
                env.process(_visit(env, log, f"v{k}", got_s=1.0, limit_s=4.0))

    logs = []
    for make, advance in ((simpy.Environment, lambda env, t: env.run(until=t)),
                          (SiteEnvironment, lambda env, t: env.run_before(t))):
        env, log = make(), []
        env.process(ticker(env, log))
        for end_s in (2.5, 3.5, 5.0, 7.6, 12.5, 30.0):  # some ends fall exactly on events: those wait
            advance(env, end_s)
            assert env.now == end_s
            log.append(("end", end_s))
        logs.append(log)
    assert logs[0] == logs[1]


def test_take_now_and_put_now_do_what_a_get_and_a_put_would_without_their_events():
    from twin.model.clock import put_now, take_now

    for make in (simpy.Store, simpy.PriorityStore):
        env = SiteEnvironment()
        store = make(env)
        assert take_now(store) is None  # empty: a get would wait
        for item in (3, 1, 2):
            put_now(store, item)
        assert not env._queue  # filed, no event scheduled
        expected = [1, 2, 3] if make is simpy.PriorityStore else [3, 1, 2]
        assert [take_now(store) for _ in range(3)] == expected and take_now(store) is None

        # someone waits for an item: put_now goes through SimPy's put, and the waiter gets it
        got = []

        def waiter(env=env, store=store, got=got):
            got.append((yield store.get()))

        env.process(waiter())
        env.run_before(1.0)
        assert len(store.get_queue) == 1
        assert take_now(store) is None  # a queued get comes first, even once an item is there
        put_now(store, 7)
        env.run_before(2.0)
        assert got == [7] and not store.items and not store.get_queue

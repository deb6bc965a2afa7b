"""The twin's SimPy environment: SimPy's own, plus the two things the step loop needs of it.

A step integrates charging in parts from one event that can change it to the next. Two
kinds of scheduled event cannot: a timeout that lost its race (the maximum wait of a
vehicle that got a connector, the dwell limit of one whose battery filled) — SimPy keeps
it queued with nobody waiting on it — and the end of a part itself. Cutting parts at
them cost a day at 1 min steps ~45 % more parts than it has changes (measured on the
passenger holiday). So:

* ``next_live_s`` is the time of the next event someone waits on; dead timeouts at the
  head of the queue are discarded on the way (what ``step`` would do with them: they have
  no callbacks and cannot fail);
* ``run_before(t_s)`` processes every event before ``t_s`` and sets the clock to ``t_s``,
  as ``run(until=t_s)`` does, without scheduling (and then processing) a stop event.

Both read SimPy's event queue (``_queue``: a heap of ``(time, priority, id, event)``, the
same in every SimPy 4 release), which is why they live in this subclass and nowhere else.
"""

from __future__ import annotations

from heapq import heappop, heappush

import simpy
from simpy.core import BoundClass, Infinity
from simpy.events import Timeout


class SiteEnvironment(simpy.Environment):
    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        # SimPy binds its event classes (``timeout``, ``event``, ``process``, ...) to an environment
        # once, in ``__init__`` (``BoundClass.bind_early``), but only those in the instance's own
        # class: a subclass got none bound, and every ``env.timeout`` made a bound method anew
        # (81,000 at 30 days of a year's steps, ~1 us each)
        for name, attribute in vars(simpy.Environment).items():
            if type(attribute) is BoundClass:
                setattr(self, name, getattr(self, name))

    def next_live_s(self) -> float:
        """Time of the next scheduled event that is not a dead timeout (``inf`` when there is none)."""
        queue = self._queue
        while queue:
            event = queue[0][3]
            # A timeout is dead when nobody waits on it: no process yields an event it made earlier
            # (the twin's processes yield each timeout as they create it), so none can start to.
            if event.callbacks or type(event) is not Timeout:
                return queue[0][0]
            heappop(queue)
            event.callbacks = None  # processed, as ``step`` marks it
        return Infinity

    def run_before(self, t_s: float) -> None:
        """Process the events due before ``t_s``, then stand the clock at ``t_s``."""
        queue = self._queue
        while queue and queue[0][0] < t_s:
            self.step()
        self._now = t_s


# -- stores without events ------------------------------------------------------------------
# A get from a store that holds an item, with nobody queued before it, succeeds at once; a put
# into a store of unbounded capacity with nobody waiting for an item only files it. SimPy still
# makes each an event and processes it a moment later, with no effect: at a year's 1 h steps that
# was ~4 of the ~12 events of a vehicle's visit. These two do what the event would, without it.

def take_now(store: simpy.Store):
    """The item ``store.get()`` would hand over at once, taken; None when a get would have to wait."""
    if not store.items or store.get_queue:
        return None
    return heappop(store.items) if isinstance(store, simpy.PriorityStore) else store.items.pop(0)


def put_now(store: simpy.Store, item) -> None:
    """``store.put(item)``: filed at once when nobody waits for an item, else through SimPy's event."""
    if store.get_queue or store.put_queue or len(store.items) >= store.capacity:
        store.put(item)
    elif isinstance(store, simpy.PriorityStore):
        heappush(store.items, item)
    else:
        store.items.append(item)

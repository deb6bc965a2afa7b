"""The duration-weighted mean of a step's charging parts, accumulated part by part.

A step is integrated in parts between the events inside it (``Twin.step``): one part in
most 1 s steps, two or three at 1 min, a dozen or more at 1 h. Collecting the parts and
averaging them at the end (``np.average``, then a stacked version of it) cost a fifth of
a run at 1 min steps; a running sum costs one multiply-add per quantity and part. A
quantity that is the same object in every part (the step's PV and load profiles, unless
an outage or an island changed them inside the step) is passed through as it is, so its
"mean" is exactly itself. ``tests/twin/test_averaging.py`` compares with ``np.average``.
"""

from __future__ import annotations


class PartMeans:
    """Feed ``add(duration_s, part)`` for each part (a tuple of 1-D arrays and floats), then read ``means()``."""

    def __init__(self) -> None:
        self._first: tuple | None = None
        self._sums: list | None = None  # per position: the weighted sum, or None while it is the first's object
        self._total_s = 0.0

    def add(self, duration_s: float, part: tuple) -> None:
        first = self._first
        if first is None:
            self._first, self._total_s = part, duration_s
            return
        if self._sums is None:
            self._sums = [None] * len(first)
        sums = self._sums
        for i, value in enumerate(part):
            if sums[i] is None:
                if value is first[i]:
                    continue
                sums[i] = first[i] * self._total_s  # every part so far had the first's value (a new object)
            sums[i] = sums[i] + value * duration_s
        self._total_s += duration_s

    def means(self) -> list:
        first = self._first
        if first is None:
            raise ValueError("no part was added")
        if self._sums is None:
            return list(first)
        return [first[i] if total is None else total / self._total_s for i, total in enumerate(self._sums)]

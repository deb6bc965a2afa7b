"""The mean of a step's charging parts, weighted by their durations, in a few numpy calls.

A step is integrated in parts between the events inside it (``Twin.step``); at 1 min steps a
step has ~5 parts and at 1 h steps dozens. ``np.average`` per quantity spent ~20 numpy calls
on checks and broadcasting each time, a fifth of a run at 1 min steps. This does the same
arithmetic in the same order, so the results are bit for bit those of ``np.average(...,
axis=0, weights=durations_s)`` (``tests/twin/test_averaging.py``): array quantities are summed
down the column (row after row), scalars and one-element arrays as one 1-D sum, as numpy does
for each shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def time_weighted_means(parts: Sequence[tuple], durations_s: Sequence[float]) -> list:
    """Per position of the parts' tuples (each a 1-D array or a float), the duration-weighted mean."""
    weights = np.asarray(durations_s)
    total_s = weights.sum()
    first = parts[0]
    # numpy sums a column of width 1 like a 1-D run (pairwise from 8 values on), so those go with the scalars
    arrays = [i for i, value in enumerate(first) if isinstance(value, np.ndarray) and value.size != 1]
    stacked = np.array([np.concatenate([part[i] for i in arrays]) for part in parts])
    bounds = np.cumsum([first[i].size for i in arrays])[:-1]
    means = list(first)
    for i, mean in zip(arrays, np.split((stacked * weights[:, None]).sum(axis=0) / total_s, bounds)):
        means[i] = mean
    for i in range(len(first)):
        if i not in arrays:
            column = np.array([part[i] for part in parts])  # (n,) for floats, (n, 1) for one-element arrays
            means[i] = (column * weights.reshape((-1,) + (1,) * (column.ndim - 1))).sum(axis=0) / total_s
    return means

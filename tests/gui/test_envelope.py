"""The panels' peak envelope: the same max/min per bin whether rows arrive at once or a few at a time."""

from __future__ import annotations

import numpy as np
import pytest

from gui.data.store import SeriesStore
from gui.plot.envelope import PeakEnvelope


def _store(rows: int, capacity: int | None = None, seed: int = 1) -> tuple[SeriesStore, np.ndarray]:
    data = np.random.default_rng(seed).normal(size=(3, rows))
    store = SeriesStore(["a", "b", "c"], capacity or rows)
    return store, data


def _brute(t_s: np.ndarray, data: np.ndarray, first: int, last: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(t_s)
    x, y = [], []
    for k in range(first, last):
        part = data[:, k * b:min((k + 1) * b, n)]
        x += [t_s[min(k * b + b // 2, n - 1)]] * 2
        y.append(np.stack([part.max(axis=1), part.min(axis=1)], axis=1))
    return np.array(x), np.concatenate(y, axis=1)


def test_bin_size_is_a_power_of_two_below_the_samples_per_pixel():
    assert PeakEnvelope.bin_samples(86_400, 1300) == 64
    assert PeakEnvelope.bin_samples(2_000, 1300) == 1
    assert PeakEnvelope.bin_samples(2_600, 1300) == 2


def test_incremental_appends_match_a_one_shot_reduction_including_the_live_edge():
    store, data = _store(10_000, capacity=100)  # also outgrows its capacity on the way
    envelope = PeakEnvelope()
    t_s = np.arange(1.0, 10_001.0)
    for start in range(0, 10_000, 73):  # ragged batches: a bin is often still filling
        stop = min(start + 73, 10_000)
        store.extend(t_s[start:stop], data[:, start:stop])
        x, y = envelope.view(store, 0.0, 10_000.0, 500)
        b = PeakEnvelope.bin_samples(store.n, 500)
        if b > 1:
            want_x, want_y = _brute(t_s[:store.n], data[:, :store.n], 0, -(-store.n // b), b)
            np.testing.assert_array_equal(x, want_x)
            np.testing.assert_array_equal(y, want_y)
    assert y.max(axis=1) == pytest.approx(data.max(axis=1)) and y.min(axis=1) == pytest.approx(data.min(axis=1))


def test_a_zoomed_view_keeps_one_bin_beyond_each_edge():
    store, data = _store(86_400)
    t_s = np.arange(1.0, 86_401.0)
    store.extend(t_s, data)
    x, y = PeakEnvelope().view(store, 36_000.0, 72_000.0, 1000)  # 36,000 samples: bins of 32
    assert x[0] < 36_000.0 < 72_000.0 < x[-1]
    assert x[-1] - x[0] < 36_000.0 + 3 * 32
    first = (int(np.searchsorted(t_s, 36_000.0)) - 1) // 32
    last = -(-(int(np.searchsorted(t_s, 72_000.0, side="right")) + 1) // 32)
    want_x, want_y = _brute(t_s, data, first, last, 32)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)


def test_few_samples_are_drawn_as_they_are_without_copies():
    store, data = _store(600)
    store.extend(np.arange(1.0, 601.0), data)
    x, y = PeakEnvelope().view(store, 0.0, 600.0, 1000)
    assert len(x) == 600 and np.shares_memory(x, store.t_s) and np.shares_memory(y, store.data)
    empty_x, empty_y = PeakEnvelope().view(SeriesStore(["a"], 10), 0.0, 600.0, 1000)
    assert len(empty_x) == 0 and empty_y.shape == (1, 0)

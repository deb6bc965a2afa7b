"""The step's part averaging equals ``np.average`` bit for bit (see ``twin.model.averaging``)."""

import numpy as np
import pytest

from twin.model.averaging import time_weighted_means


@pytest.mark.parametrize("n_parts", [2, 3, 7, 8, 9, 17, 40])  # numpy sums 1-D runs of 8+ pairwise
def test_the_weighted_means_equal_np_average_bit_for_bit(n_parts):
    rng = np.random.default_rng(n_parts)
    for _ in range(200):
        parts = [(rng.random(30) * 100, float(rng.random() * 50), rng.random(3) * 900, rng.random(1) * 80,
                  rng.random(2) * 20, float(rng.random() * 5)) for _ in range(n_parts)]  # widths 30, 3, 2, 1
        durations_s = list(rng.random(n_parts) * 30)
        means = time_weighted_means(parts, durations_s)
        for i, mean in enumerate(means):
            expected = np.average([part[i] for part in parts], axis=0, weights=durations_s)
            assert np.shape(mean) == np.shape(expected)
            assert np.array_equal(mean, expected)


def test_empty_arrays_and_a_zero_length_part_are_averaged_too():
    parts = [(np.zeros(0), 1.0, np.array([2.0])), (np.zeros(0), 3.0, np.array([4.0]))]
    means = time_weighted_means(parts, [0.0, 2.0])
    assert means[0].shape == (0,) and means[1] == 3.0 and means[2].tolist() == [4.0]

"""The step's running part means equal ``np.average`` (see ``twin.model.averaging``)."""

import numpy as np
import pytest

from twin.model.averaging import PartMeans


def _means(parts, durations_s):
    acc = PartMeans()
    for duration_s, part in zip(durations_s, parts):
        acc.add(duration_s, part)
    return acc.means()


@pytest.mark.parametrize("n_parts", [1, 2, 3, 7, 8, 9, 17, 40])
def test_the_running_means_equal_np_average(n_parts):
    rng = np.random.default_rng(n_parts)
    for _ in range(200):
        parts = [(rng.random(30) * 100, float(rng.random() * 50), rng.random(3) * 900, rng.random(1) * 80,
                  rng.random(2) * 20, float(rng.random() * 5)) for _ in range(n_parts)]  # widths 30, 3, 2, 1
        durations_s = list(rng.random(n_parts) * 30 + 1e-3)
        for i, mean in enumerate(_means(parts, durations_s)):
            expected = np.average([part[i] for part in parts], axis=0, weights=durations_s)
            assert np.shape(mean) == np.shape(expected)
            np.testing.assert_allclose(mean, expected, rtol=1e-12, atol=0)


def test_a_quantity_that_is_the_same_object_in_every_part_is_passed_through_exactly():
    profile = np.array([0.1, 0.7, 123.456789])
    parts = [(np.array([float(k)]), profile, 2.0) for k in range(5)]
    means = _means(parts, [0.3, 7.0, 11.0, 0.001, 41.0])
    assert means[1] is profile and means[2] == 2.0
    assert means[0][0] == pytest.approx(np.average(range(5), weights=[0.3, 7.0, 11.0, 0.001, 41.0]), rel=1e-12)


def test_a_quantity_that_changes_midway_counts_its_earlier_parts_at_their_first_value():
    profile, cut = np.array([10.0, 20.0]), np.array([0.0, 20.0])  # an outage cuts the first point's PV in part 3
    parts = [(profile, 1.0), (profile, 1.0), (cut, 1.0)]
    means = _means(parts, [10.0, 20.0, 30.0])
    np.testing.assert_allclose(means[0], [10.0 * 30.0 / 60.0, 20.0], rtol=1e-12)
    assert profile.tolist() == [10.0, 20.0]  # the parts' own arrays are not changed


def test_empty_arrays_and_a_zero_length_part_are_averaged_too():
    parts = [(np.zeros(0), 1.0, np.array([2.0])), (np.zeros(0), 3.0, np.array([4.0]))]
    means = _means(parts, [0.0, 2.0])
    assert means[0].shape == (0,) and means[1] == 3.0 and means[2].tolist() == [4.0]

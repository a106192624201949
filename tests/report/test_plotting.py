"""Drawing helpers: error bar lengths, dodging, axes."""

import numpy as np
import pandas as pd

from stainworth.report import plotting


def test_error_lengths_are_never_negative_and_nan_stays_undefined():
    values = np.array([0.5, 0.5, 0.5])
    lengths = plotting.error_lengths(values, np.array([0.4, 0.6, np.nan]), np.array([0.7, 0.55, 0.6]))
    np.testing.assert_allclose(lengths[:, :2], [[0.1, 0.0], [0.2, 0.05]])
    assert np.isnan(lengths[0, 2]) and np.isclose(lengths[1, 2], 0.1)


def test_dodging_moves_the_display_not_the_data():
    figure, (axis,) = plotting.panels(1, "t")
    assert plotting.slots(3) == [-1.0, 0.0, 1.0] and plotting.slots(2) == [-0.5, 0.5]
    plotting.dodged_series(axis, np.array([10.0, 100.0]), np.array([0.2, 0.3]), np.zeros((2, 2)), "label_free", 1)
    plotting.dodged_series(axis, np.array([10.0, 100.0]), np.array([0.2, 0.3]), np.zeros((2, 2)), "fluorescence", -1)
    first, second = (container.lines[0] for container in axis.containers)
    np.testing.assert_array_equal(first.get_xdata(), second.get_xdata())
    shown = [line.get_transform().transform([[10.0, 0.2]])[0, 0] for line in (first, second)]
    assert np.isclose(shown[0] - shown[1], 2 * plotting.DODGE_POINTS / 72 * figure.dpi)


def test_capacity_ticks_follow_the_smallest_count_of_each_architecture():
    table = pd.DataFrame({"architecture": ["b", "a", "b"], "capacity": [500, 20, 400]})
    capacities = plotting.architecture_capacities(table)
    assert list(capacities.index) == ["a", "b"] and list(capacities) == [20, 400]
    figure, (axis,) = plotting.panels(1, "t")
    plotting.capacity_axis(axis, capacities)
    assert [t.get_text() for t in axis.get_xticklabels()] == ["a (20)", "b (400)"]
    low, high = axis.get_xlim()
    assert low < 20 and high > 400 and axis.get_xscale() == "log"

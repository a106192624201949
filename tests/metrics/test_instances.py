"""Per-object scores: instance AP over IoU thresholds and count error, on cases with a known answer."""

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.metrics.instances import IOU_THRESHOLDS, instance_scores, predicted_instances


def squares(shape, corners, side):
    """Instance labels 1..k: squares of ``side`` px at the given top-left corners."""
    labels = np.zeros(shape, np.int32)
    for k, (y, x) in enumerate(corners, start=1):
        labels[y:y + side, x:x + side] = k
    return labels


def test_a_perfect_prediction_scores_one_and_counts_right():
    truth = squares((40, 40), [(2, 2), (20, 5), (25, 25)], 8)[None]
    scores = instance_scores(truth, truth > 0)
    assert scores["ap50"].tolist() == [1.0] and scores["ap"].tolist() == [1.0]
    assert scores["count_error"].tolist() == [0]


def test_a_shift_scores_ap_up_to_its_iou():
    """A 10 px square shifted by 2 px: IoU = (10 - 2) / (10 + 2) = 0.667, matched at IoU 0.50 ... 0.65 only."""
    truth = squares((30, 30), [(5, 5)], 10)[None]
    shifted = squares((30, 30), [(5, 7)], 10)[None] > 0
    scores = instance_scores(truth, shifted)
    expected = np.mean([1.0 if t <= 8 / 12 else 0.0 for t in IOU_THRESHOLDS])
    assert expected == pytest.approx(0.4)
    assert scores["ap50"][0] == 1.0 and scores["ap"][0] == pytest.approx(expected)


def test_two_touching_nuclei_found_as_one_blob_are_one_error():
    truth = squares((20, 40), [(5, 5)], 10)
    truth[5:15, 15:25] = 2  # a second square touching the first
    scores = instance_scores(truth[None], (truth > 0)[None])
    # the blob overlaps each nucleus with IoU 0.5: one match at IoU 0.5 (tp 1, fn 1), none above
    assert scores["ap50"][0] == pytest.approx(0.5) and scores["ap"][0] == pytest.approx(0.05)
    assert scores["count_error"][0] == -1


def test_empty_images_missed_nuclei_and_spurious_objects():
    truth = np.zeros((3, 20, 20), np.int32)
    truth[1, 2:8, 2:8] = 5  # any positive label: renumbered
    predicted = np.zeros((3, 20, 20), bool)
    predicted[2, 10:14, 10:14] = True
    scores = instance_scores(truth, predicted)
    assert np.isnan(scores["ap50"][0]) and np.isnan(scores["ap"][0])  # nothing to find, nothing found
    assert scores["ap50"][1:].tolist() == [0.0, 0.0]
    assert scores["count_error"].tolist() == [0, -1, 1]


def test_predicted_instances_are_four_connected_components():
    mask = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]], bool)
    assert predicted_instances(mask).max() == 4  # the diagonal neighbour is another object


def test_mismatched_shapes_are_refused():
    with pytest.raises(InputDataError, match=r"truth \(1, 4, 4\) and prediction \(1, 4, 5\)"):
        instance_scores(np.zeros((1, 4, 4), int), np.zeros((1, 4, 5), bool))

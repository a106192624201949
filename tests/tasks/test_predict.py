"""Predictions: per-image mask scores and classification scores, in index order, eval mode, no gradients."""

import numpy as np
import pytest
import torch
from torch import nn

from stainworth.errors import ConfigError
from stainworth.metrics.segmentation import mask_scores
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.tasks import build_task_net
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.predict import predict_classification, predict_segmentation

IDENTITY = PercentileNormaliser(0.0, 1.0)


class Threshold(nn.Module):
    """Logits of ``pixel > 0.5`` (segmentation) or of a bright centre (classification); records its calls."""

    def __init__(self, classify=False):
        super().__init__()
        self.classify, self.calls = classify, []
        self.scale = nn.Parameter(torch.tensor(40.0))

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        if self.classify:
            return self.scale * (x[:, 0, 12:20, 12:20].mean(dim=(1, 2)) - 0.7)
        return self.scale * (x - 0.5)


def test_segmentation_scores_every_image_against_its_mask(segmentation_dataset):
    batches = TaskBatches(segmentation_dataset, "test", "label_free", IDENTITY, batch_size=5)
    net = Threshold()
    net.train()
    result = predict_segmentation(net, batches, probabilities=True)
    assert set(result) == {"precision", "recall", "dice", "tp", "fp", "fn", "indices", "probabilities"}
    assert result["dice"].shape == (12,) and result["probabilities"].shape == (12, 32, 32)
    assert result["probabilities"].dtype == np.float32 and 0 <= result["probabilities"].min() <= 1
    np.testing.assert_array_equal(result["indices"], np.arange(12))
    assert result["dice"].mean() > 0.95
    expected = mask_scores(result["probabilities"], segmentation_dataset.arrays("test")["mask"][:])
    np.testing.assert_array_equal(result["dice"], expected["dice"])
    assert net.training and all(call == (False, False) for call in net.calls)  # eval, no grad; mode restored


def test_segmentation_without_probability_maps_and_on_a_subset(segmentation_dataset):
    batches = TaskBatches(segmentation_dataset, "test", "label_free", IDENTITY, batch_size=4, indices=[7, 1, 4])
    result = predict_segmentation(Threshold(), batches)
    assert "probabilities" not in result and result["dice"].shape == (3,)
    np.testing.assert_array_equal(result["indices"], [1, 4, 7])


def test_classification_scores_are_probabilities_aligned_with_the_labels(classification_dataset):
    batches = TaskBatches(classification_dataset, "test", "label_free", IDENTITY, batch_size=5)
    net = Threshold(classify=True).eval()
    scores, labels = predict_classification(net, batches)
    assert scores.shape == labels.shape == (12,) and scores.dtype == np.float64 and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, classification_dataset.arrays("test")["label"][:])
    assert np.all((scores > 0.5) == (labels == 1)) and np.all((scores > 0) & (scores < 1))
    assert not net.training and all(call == (False, False) for call in net.calls)


def test_predictions_are_deterministic(segmentation_dataset):
    torch.manual_seed(1)
    net = build_task_net("unet1")
    batches = TaskBatches(segmentation_dataset, "test", "label_free", IDENTITY, batch_size=5)
    first = predict_segmentation(net, batches, probabilities=True)
    again = predict_segmentation(net, batches, probabilities=True)
    np.testing.assert_array_equal(first["probabilities"], again["probabilities"])


def test_a_split_of_the_other_task_is_refused(segmentation_dataset, classification_dataset):
    segmentation = TaskBatches(segmentation_dataset, "test", "label_free", IDENTITY, batch_size=4)
    classification = TaskBatches(classification_dataset, "test", "label_free", IDENTITY, batch_size=4)
    with pytest.raises(ConfigError, match=r"split 'test': a segmentation split; expected classification"):
        predict_classification(Threshold(), segmentation)
    with pytest.raises(ConfigError, match=r"split 'test': a classification split; expected segmentation"):
        predict_segmentation(Threshold(), classification)

"""Task-network outputs over a split: per-image mask scores, classification scores.

Predictions run in eval mode without gradients, over the split in index order without
augmentation (``batches.epoch(0, seed=0, shuffle=False)``), so they are deterministic on the CPU
and line up with the split's items (``batches.indices``). The network's training mode is
restored afterwards. Segmentation probabilities are thresholded at 0.5 and scored per image by
:func:`stainworth.metrics.segmentation.mask_scores` (its empty-mask conventions apply);
classification scores are the sigmoid of the logits, the input of the ROC analysis
(:func:`stainworth.metrics.empirical_auc`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from stainworth.errors import ConfigError
from stainworth.metrics.segmentation import mask_counts, scores_from_counts
from stainworth.nets.devices import autocast, module_device
from stainworth.tasks.data import TaskBatches


def outputs(net: torch.nn.Module, batches: TaskBatches, *, bf16: bool = False
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(logits as float32, targets)`` on the CPU batch by batch, in index order, eval mode, no gradients."""
    was_training = net.training
    device = module_device(net)
    net.eval()
    try:
        with torch.no_grad():
            for inputs, targets in batches.epoch(0, seed=0, shuffle=False):
                with autocast(bf16, device):
                    logits = net(inputs.to(device))
                yield logits.float().cpu(), targets
    finally:
        net.train(was_training)


def _expect(batches: TaskBatches, task: str) -> None:
    if batches.task != task:
        raise ConfigError(f"{batches.where}: a {batches.task} split; expected {task}")


def predict_segmentation(net: torch.nn.Module, batches: TaskBatches, *, threshold: float = 0.5,
                         probabilities: bool = False, bf16: bool = False) -> dict[str, np.ndarray]:
    """Per-image precision, recall and Dice of a segmentation network on a split.

    Parameters
    ----------
    net
        Segmentation network (logits (N, 1, H, W)).
    batches
        The split (segmentation).
    threshold
        Foreground where the probability is at least ``threshold``.
    probabilities
        Also return the (n, H, W) float32 probability maps (``n * H * W * 4`` bytes).
    bf16
        bfloat16 autocast.

    Returns
    -------
    dict of str to numpy.ndarray
        ``precision``, ``recall`` (NaN on images without nuclei), ``dice`` (float64, (n,)), the
        pixel counts ``tp``, ``fp``, ``fn`` and ``indices`` (the split's items), plus
        ``probabilities`` when asked.

    Raises
    ------
    ConfigError
        A classification split.
    """
    _expect(batches, "segmentation")
    counts: list[tuple[np.ndarray, ...]] = []
    maps: list[np.ndarray] = []
    for logits, targets in outputs(net, batches, bf16=bf16):
        probability = torch.sigmoid(logits)[:, 0].numpy()
        counts.append(mask_counts(probability, targets[:, 0].numpy().astype(bool), threshold=threshold))
        if probabilities:
            maps.append(probability)
    tp, fp, fn = (np.concatenate(parts) for parts in zip(*counts, strict=True))
    result = scores_from_counts(tp, fp, fn) | {"indices": batches.indices.copy()}
    if probabilities:
        result["probabilities"] = np.concatenate(maps)
    return result


def predict_classification(net: torch.nn.Module, batches: TaskBatches, *, bf16: bool = False
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Scores (sigmoid of the logits, float64 (n,)) and labels (uint8 (n,)) of a classifier on a split.

    Raises
    ------
    ConfigError
        A segmentation split.
    """
    _expect(batches, "classification")
    scores, labels = [], []
    for logits, targets in outputs(net, batches, bf16=bf16):
        scores.append(torch.sigmoid(logits).numpy().astype(np.float64))
        labels.append(targets.numpy().astype(np.uint8))
    return np.concatenate(scores), np.concatenate(labels)

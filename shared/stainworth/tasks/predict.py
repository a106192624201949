"""Task-network outputs over a split: per-image mask scores, classification scores.

Predictions run in eval mode without gradients, over the split in index order without
augmentation (``batches.epoch(0, seed=0, shuffle=False)``), so they are deterministic on the CPU
and line up with the split's items (``batches.indices``). The network's training mode is
restored afterwards. Segmentation probabilities are thresholded at 0.5 and scored per image by
:func:`stainworth.metrics.segmentation.mask_scores` (its empty-mask conventions apply), and per
object by :func:`stainworth.metrics.instances.instance_scores` when the true instances are given;
classification scores are the sigmoid of the logits, the input of the ROC analysis
(:func:`stainworth.metrics.empirical_auc`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from stainworth.errors import ConfigError
from stainworth.metrics.instances import INSTANCE_METRICS, instance_scores
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
                         probabilities: bool = False, bf16: bool = False,
                         instances: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-image precision, recall and Dice of a segmentation network on a split (and per-object scores).

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
    instances
        (n, H, W) true instance labels of the split's items in index order
        (:meth:`~stainworth.tasks.data.TaskBatches.instance_labels`): adds ``ap50``, ``ap`` and
        ``count_error`` (:func:`~stainworth.metrics.instances.instance_scores`).

    Returns
    -------
    dict of str to numpy.ndarray
        ``precision``, ``recall`` (NaN on images without nuclei), ``dice`` (float64, (n,)), the
        pixel counts ``tp``, ``fp``, ``fn`` and ``indices`` (the split's items), plus
        ``probabilities`` and the per-object scores when asked.

    Raises
    ------
    ConfigError
        A classification split.
    """
    _expect(batches, "segmentation")
    if instances is not None and np.shape(instances)[0] != batches.size:
        raise ConfigError(f"{batches.where}: {np.shape(instances)[0]} instance images for {batches.size} items")
    counts: list[tuple[np.ndarray, ...]] = []
    maps: list[np.ndarray] = []
    objects: list[dict[str, np.ndarray]] = []
    done = 0
    for logits, targets in outputs(net, batches, bf16=bf16):
        probability = torch.sigmoid(logits)[:, 0].numpy()
        counts.append(mask_counts(probability, targets[:, 0].numpy().astype(bool), threshold=threshold))
        if instances is not None:
            objects.append(instance_scores(instances[done:done + len(probability)], probability >= threshold))
        done += len(probability)
        if probabilities:
            maps.append(probability)
    tp, fp, fn = (np.concatenate(parts) for parts in zip(*counts, strict=True))
    result = scores_from_counts(tp, fp, fn) | {"indices": batches.indices.copy()}
    if objects:
        result |= {name: np.concatenate([part[name] for part in objects]) for name in INSTANCE_METRICS}
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

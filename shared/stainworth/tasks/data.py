"""Deterministic mini-batches of (normalised image, target) for task networks, held in memory.

A task network reads one image field of a dataset split: ``label_free`` or ``fluorescence``
(a virtual dataset has the stainer's output in ``fluorescence``, with the real dataset's item
indices, masks and labels). Targets are the nucleus ``mask`` for segmentation and the class
``label`` (0 control, 1 treated) for classification.

The split (or the chosen ``indices`` of it) is decoded from zarr **once**, when the batches are
built, and normalised then: the task networks are small and fast, so decompressing chunks every
epoch would make the loop wait for data most of the time, and the training subsets of the study
are at most a few thousand crops. Memory: ``n * H * W * 4`` bytes for the float32 inputs plus
``n * H * W`` bytes for uint8 masks (segmentation) or ``n`` bytes for labels (classification);
2,000 crops of 192 x 192 take about 370 MB for segmentation. Items are read chunk by chunk and
only the selected ones are kept, so a subset never holds the whole split. The batches are
immutable: a validation or test split can be built once and shared by every run of a sweep.

Training epochs are shuffled by ``(seed, epoch)`` only, so a resumed training sees the batches of
an uninterrupted one. Optional augmentation by the symmetries of the square (``"dihedral"``: the
eight rotations and reflections; ``"flips"``: the four flips), drawn from the same generator, is
applied identically to an image and its mask; a class label does not change.

Degenerate inputs are refused with one line naming the dataset and split: no items, NaN/Inf
pixels, a classification split with one class only, a segmentation split whose masks are all
empty, or indices out of range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch

from stainworth.datasets.storage import INSTANCE_FIELD, Dataset
from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.normalise import PercentileNormaliser

INPUT_FIELDS = ("label_free", "fluorescence")
"""Dataset fields a task network can take as input."""
Augment = Literal["none", "flips", "dihedral"]
_TRANSFORMS = {"none": 1, "flips": 4, "dihedral": 8}


class TaskBatches:
    """Batches ``(inputs (N, 1, H, W) float32, targets)`` of one split and one input field.

    Parameters
    ----------
    dataset
        An opened dataset of kind ``"segmentation"`` or ``"classification"``.
    split
        Split name (``"train"``, ``"val"``, ``"test"``).
    field
        Input image field: ``"label_free"`` or ``"fluorescence"``.
    normaliser
        Intensity normalisation of the inputs (fitted on the training split of ``field``, or
        :meth:`PercentileNormaliser.from_statistics`).
    batch_size
        Items per batch (the last batch of an epoch may be smaller).
    indices
        Items of the split to use (a training subset), in any order; ``None``: all. They are
        stored in increasing order.
    augment
        Symmetries applied in shuffled epochs: ``"none"``, ``"flips"`` or ``"dihedral"``.
    min_epoch_items
        Items a shuffled epoch shows at least: fewer items are passed over repeatedly, each pass a
        fresh permutation (and augmentation), the last one cut short; ``None``: one pass.

    Attributes
    ----------
    task : str
        The dataset's kind; targets are masks (N, 1, H, W) float32 for ``"segmentation"`` and
        labels (N,) float32 for ``"classification"``.
    inputs : numpy.ndarray
        (n, H, W) normalised float32 images.
    targets : numpy.ndarray
        (n, H, W) uint8 masks or (n,) uint8 labels.
    indices : numpy.ndarray
        (n,) sorted item indices within the split.

    Raises
    ------
    ConfigError
        An unknown field or augmentation, or a batch size below 1.
    InputDataError
        A degenerate split (see the module docstring) or non-square items with ``"dihedral"``.
    """

    def __init__(self, dataset: Dataset, split: str, field: str, normaliser: PercentileNormaliser, *,
                 batch_size: int, indices: Any = None, augment: Augment = "none",
                 min_epoch_items: int | None = None) -> None:
        _check_options(field, batch_size, augment)
        if min_epoch_items is not None and (isinstance(min_epoch_items, bool) or not isinstance(min_epoch_items, int)
                                            or min_epoch_items < 1):
            raise ConfigError(f"min_epoch_items: found {min_epoch_items!r}; expected an integer >= 1 or None")
        self.min_epoch_items = min_epoch_items
        self.where = f"{dataset.path} split '{split}'"
        self.task = _task_of(dataset)
        self.split, self.field, self.normaliser = split, field, normaliser
        self.batch_size, self.augment = int(batch_size), augment
        arrays = dataset.arrays(split)
        target_name = "mask" if self.task == "segmentation" else "label"
        missing = sorted({field, target_name} - set(arrays))
        if missing:
            raise InputDataError(f"{self.where}: no {' or '.join(missing)} array (has {sorted(arrays)}); "
                                 f"expected {field} and {target_name} for {self.task}")
        total = int(arrays[field].shape[0])
        self.indices = _check_indices(indices, total, self.where)
        if self.indices.size == 0:
            found = "the split is empty" if total == 0 else f"the indices select none of its {total} items"
            raise InputDataError(f"{self.where}: no items ({found}); expected at least one")
        images = _read_items(arrays[field], self.indices)
        if not np.all(np.isfinite(images)):
            raise InputDataError(f"{self.where}: '{field}' has NaN/Inf pixels; expected finite values")
        if augment == "dihedral" and images.shape[1] != images.shape[2]:
            raise InputDataError(f"{self.where}: dihedral augmentation needs square items, found "
                                 f"{tuple(images.shape[1:])}; use 'flips'")
        self.inputs = normaliser.apply(images)
        self._instances = arrays.get(INSTANCE_FIELD) if self.task == "segmentation" else None
        targets = _read_items(arrays[target_name], self.indices)
        self.targets = (targets != 0).astype(np.uint8) if self.task == "segmentation" else targets.astype(np.uint8)
        _check_targets(self.task, self.targets, self.where)

    def instance_labels(self) -> np.ndarray | None:
        """(n, H, W) int32 instance labels of the items, in index order; None when the dataset has none.

        Read on demand (segmentation datasets written by ``extract`` carry them; the per-object
        scores of the test split need them, training does not).
        """
        if self._instances is None:
            return None
        return _read_items(self._instances, self.indices).astype(np.int32, copy=False)

    @property
    def size(self) -> int:
        """Distinct items (of the split, or of the subset ``indices`` chose); an epoch shows ``items_per_epoch``."""
        return int(self.indices.size)

    @property
    def items_per_epoch(self) -> int:
        """Items a shuffled epoch shows: ``size``, or ``min_epoch_items`` when that is larger."""
        return max(self.size, self.min_epoch_items or 0)

    def __len__(self) -> int:
        """Batches per shuffled epoch."""
        return -(-self.items_per_epoch // self.batch_size)

    def describe(self) -> dict[str, Any]:
        """What identifies these batches in a checkpoint fingerprint (not the dataset's folder, which may move)."""
        return {"split": self.split, "field": self.field, "task": self.task, "items": self.size,
                "indices_sha256": hashlib.sha256(self.indices.astype("<i8").tobytes()).hexdigest(),
                "batch_size": self.batch_size, "augment": self.augment, "normaliser": self.normaliser.to_dict()
                } | ({"items_per_epoch": self.items_per_epoch} if self.items_per_epoch > self.size else {})

    def epoch(self, epoch: int, *, seed: int, shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of one epoch; order and augmentation are a function of ``(seed, epoch)`` only.

        ``shuffle=False`` gives the items in index order without augmentation (validation, test).
        """
        rng = np.random.default_rng([int(seed), int(epoch)])
        order = rng.permutation(self.size) if shuffle else np.arange(self.size)
        if shuffle and self.items_per_epoch > self.size:
            passes = [order] + [rng.permutation(self.size) for _ in range(-(-self.items_per_epoch // self.size) - 1)]
            order = np.concatenate(passes)[:self.items_per_epoch]
        augmenting = shuffle and self.augment != "none"
        codes = rng.integers(0, _TRANSFORMS[self.augment], size=order.size) if augmenting else None
        for start in range(0, order.size, self.batch_size):
            chosen = order[start:start + self.batch_size]
            x, y = self.inputs[chosen], self.targets[chosen]
            if codes is not None:
                x = _transform(x, codes[start:start + self.batch_size])
                if self.task == "segmentation":
                    y = _transform(y, codes[start:start + self.batch_size])
            yield self._tensors(x, y)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1)
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        return inputs, (targets.unsqueeze(1) if self.task == "segmentation" else targets)


def _check_options(field: str, batch_size: int, augment: str) -> None:
    if field not in INPUT_FIELDS:
        raise ConfigError(f"input field '{field}': expected one of {', '.join(INPUT_FIELDS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size {batch_size!r}: expected an integer >= 1")
    if augment not in _TRANSFORMS:
        raise ConfigError(f"augment {augment!r}: expected one of {', '.join(_TRANSFORMS)}")


def _task_of(dataset: Dataset) -> str:
    kind = dataset.kind
    if kind not in ("segmentation", "classification"):
        raise InputDataError(f"{dataset.path}: dataset kind '{kind}'; expected segmentation or classification")
    return kind


def _check_indices(indices: Any, total: int, where: str) -> np.ndarray:
    """Sorted int64 indices (all items when ``None``), refusing non-integers and out-of-range values."""
    if indices is None:
        return np.arange(total, dtype=np.int64)
    values = np.asarray(indices)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise InputDataError(f"{where}: indices of shape {values.shape} and dtype {values.dtype}; "
                             "expected a 1-D array of integers")
    values = np.sort(values.astype(np.int64))
    if values.size and (values[0] < 0 or values[-1] >= total):
        raise InputDataError(f"{where}: indices out of range (found {values[0]}..{values[-1]}); expected "
                             f"0..{total - 1} for a split of {total} items")
    return values


def _read_items(array: Any, indices: np.ndarray) -> np.ndarray:
    """``array[indices]`` for sorted indices, decoding one zarr chunk at a time and keeping only those items."""
    chunks = getattr(array, "chunks", None)
    step = int(chunks[0]) if chunks else max(int(array.shape[0]), 1)
    parts = []
    for first in np.unique(indices // step) * step:
        wanted = indices[(indices >= first) & (indices < first + step)]
        block = np.asarray(array[int(first):int(wanted[-1]) + 1])
        parts.append(block[wanted - first])
    return np.concatenate(parts)


def _check_targets(task: str, targets: np.ndarray, where: str) -> None:
    if task == "segmentation":
        if not targets.any():
            raise InputDataError(f"{where}: all {len(targets)} masks are empty; expected nuclei in at least one")
        return
    values, counts = np.unique(targets, return_counts=True)
    if not set(values.tolist()) <= {0, 1}:
        raise InputDataError(f"{where}: labels {values.tolist()}; expected 0 (control) and 1 (treated) only")
    if values.size < 2:
        count = {int(v): int(n) for v, n in zip(values, counts, strict=True)}
        raise InputDataError(f"{where}: one class only: {count.get(0, 0)} control (0) and {count.get(1, 0)} treated "
                             "(1) items; expected items of both classes")


def _transform(images: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Apply symmetry ``codes[i]`` to image ``i``: bit 0 flips rows, bit 1 flips columns, bit 2 transposes."""
    out = images.copy()
    for i, code in enumerate(codes):
        image = images[i]
        if code & 1:
            image = image[::-1]
        if code & 2:
            image = image[:, ::-1]
        if code & 4:
            image = image.T
        out[i] = image
    return out

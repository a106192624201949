"""Deterministic mini-batches of (label-free, fluorescence) pairs, read chunk by chunk.

Datasets are zarr arrays chunked along items. Reading items in a fully random order would
decompress a whole chunk per item, so an epoch shuffles the order of the chunks, loads a group of
chunks at a time and shuffles the items inside the group (the approach of WebDataset's shuffle
buffer). The order depends only on the seed and the epoch number, so a resumed training sees the
same batches as an uninterrupted one.

Training batches may be augmented by the symmetries of the square: each pair gets one of the
eight rotations by 90 degrees and reflections (``"dihedral"``) or one of the four flips
(``"flips"``), drawn from the same (seed, epoch) generator. These leave the physics of an
isotropic label-free contrast (quantitative phase, phase contrast, brightfield) unchanged; DIC
relief has a shear direction, so use ``"none"`` for DIC (or ``"flips"`` along the shear only after
checking). A few hundred patches of one field become several thousand distinct examples, which is
what lets a stainer learn from a single acquisition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch

from stainworth.errors import InputDataError
from stainworth.nets.normalise import PercentileNormaliser

Augment = Literal["none", "flips", "dihedral"]
SYMMETRIES = {"none": 1, "flips": 4, "dihedral": 8}
"""Symmetries of each ``augment`` group: codes ``range(n)`` of :func:`symmetry`."""


class PairedBatches:
    """Normalised (N, 1, H, W) tensor batches of label-free inputs and fluorescence targets.

    Parameters
    ----------
    label_free, fluorescence
        (n, H, W) arrays (numpy or zarr) of one shape.
    normalisers
        ``(input, target)`` normalisers.
    batch_size
        Items per batch (the last batch of an epoch may be smaller).
    limit
        Use only the first ``limit`` items (``None``: all).
    chunk
        Items read at once (the zarr chunk length is used when the arrays have one).
    group
        Chunks loaded and shuffled together.
    augment
        Symmetries applied to shuffled (training) epochs: ``"none"``, ``"flips"`` or ``"dihedral"``
        (needs square items).
    where
        Name of the data in error messages.

    Raises
    ------
    InputDataError
        When the two arrays differ in shape or are not (n, H, W) with n >= 1, or ``"dihedral"``
        augmentation is asked of items that are not square.
    """

    def __init__(self, label_free: Any, fluorescence: Any, normalisers: tuple[PercentileNormaliser,
                 PercentileNormaliser], *, batch_size: int, limit: int | None = None, chunk: int | None = None,
                 group: int = 8, augment: Augment = "none", where: str = "dataset") -> None:
        if tuple(label_free.shape) != tuple(fluorescence.shape) or len(label_free.shape) != 3:
            raise InputDataError(f"{where}: label-free {tuple(label_free.shape)} and fluorescence "
                                 f"{tuple(fluorescence.shape)} do not pair; expected two (n, H, W) arrays of one shape")
        self.label_free, self.fluorescence = label_free, fluorescence
        self.size = min(int(label_free.shape[0]), limit or int(label_free.shape[0]))
        if self.size < 1:
            raise InputDataError(f"{where}: no items; expected at least one pair")
        if augment not in SYMMETRIES:
            raise InputDataError(f"{where}: augment {augment!r}; expected one of {sorted(SYMMETRIES)}")
        if augment == "dihedral" and label_free.shape[1] != label_free.shape[2]:
            raise InputDataError(f"{where}: dihedral augmentation needs square items, found "
                                 f"{tuple(label_free.shape[1:])}; use 'flips'")
        self.normalisers, self.batch_size, self.group = normalisers, int(batch_size), int(group)
        self.augment: Augment = augment
        chunks = getattr(label_free, "chunks", None)
        self.chunk = int(chunk or (chunks[0] if chunks else 64))

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-self.size // self.batch_size)

    def _read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        inputs = np.asarray(self.label_free[start:stop], dtype=np.float32)
        targets = np.asarray(self.fluorescence[start:stop], dtype=np.float32)
        return self.normalisers[0].apply(inputs), self.normalisers[1].apply(targets)

    def epoch(self, epoch: int, *, seed: int, shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of one epoch; the order is a function of ``(seed, epoch)`` only."""
        rng = np.random.default_rng([int(seed), int(epoch)])
        starts = np.arange(0, self.size, self.chunk)
        if shuffle:
            starts = rng.permutation(starts)
        pending_x: list[np.ndarray] = []
        pending_y: list[np.ndarray] = []
        for first in range(0, len(starts), self.group):
            parts = [self._read(int(s), min(int(s) + self.chunk, self.size)) for s in starts[first:first + self.group]]
            x = np.concatenate([p[0] for p in parts])
            y = np.concatenate([p[1] for p in parts])
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            x, y = x[order], y[order]
            if shuffle and self.augment != "none":
                x, y = _transform(x, y, rng.integers(0, SYMMETRIES[self.augment], size=len(x)))
            pending_x.append(x)
            pending_y.append(y)
            x_all, y_all = np.concatenate(pending_x), np.concatenate(pending_y)
            full = len(x_all) // self.batch_size * self.batch_size
            for k in range(0, full, self.batch_size):
                yield _tensor(x_all[k:k + self.batch_size]), _tensor(y_all[k:k + self.batch_size])
            pending_x, pending_y = [x_all[full:]], [y_all[full:]]
        if pending_x and len(pending_x[0]):
            yield _tensor(pending_x[0]), _tensor(pending_y[0])


def symmetry(images: np.ndarray, code: int) -> np.ndarray:
    """Symmetry ``code`` (0-7) of the last two axes: bit 0 flips rows, bit 1 flips columns, bit 2 transposes.

    Codes 0-3 are the four flips (``"flips"``), 0-7 the eight symmetries of the square (``"dihedral"``).
    Returns a view.
    """
    if code & 1:
        images = images[..., ::-1, :]
    if code & 2:
        images = images[..., ::-1]
    return np.swapaxes(images, -1, -2) if code & 4 else images


def inverse_symmetry(images: np.ndarray, code: int) -> np.ndarray:
    """Undo :func:`symmetry` ``code``: the same steps in reverse order (each is its own inverse)."""
    if code & 4:
        images = np.swapaxes(images, -1, -2)
    if code & 2:
        images = images[..., ::-1]
    return images[..., ::-1, :] if code & 1 else images


def _transform(x: np.ndarray, y: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply symmetry ``which[i]`` (:func:`symmetry`) to pair ``i``."""
    x, y = x.copy(), y.copy()
    for i, code in enumerate(which):
        x[i], y[i] = symmetry(x[i], int(code)), symmetry(y[i], int(code))
    return x, y


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)

"""Tiny phantom task datasets (32x32 items): discs to segment, bright vs dark nuclei to classify."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stainworth.datasets import normalisation_statistics, write_dataset

SIZE = 32


def discs(n, seed, size=SIZE):
    """Label-free: noisy background with 1-3 bright discs; mask: the discs (a threshold separates them)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.uniform(6, size - 6), rng.uniform(6, size - 6), rng.uniform(3, 6)
            mask[i] |= ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
    label_free = (0.2 + 0.6 * mask + rng.normal(0, 0.05, mask.shape)).astype(np.float32)
    return label_free, mask


def nuclei(n, seed, size=SIZE):
    """One centred disc per item; treated (1) nuclei are bright, control (0) dark. Classes alternate."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    label = (np.arange(n) % 2).astype(np.uint8)
    radius = rng.uniform(6, 10, n)[:, None, None]
    mask = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius ** 2).astype(np.uint8)
    brightness = np.where(label == 1, 1.0, 0.4)[:, None, None]
    label_free = (mask * brightness + rng.normal(0, 0.05, mask.shape)).astype(np.float32)
    return label_free, mask, label


def items(label_free, mask, label=None):
    n = len(mask)
    out = {"label_free": label_free, "fluorescence": (100.0 + 1000.0 * label_free).astype(np.float32),
           "mask": mask, "positions": np.zeros((n, 2), np.int64), "source": np.zeros(n, np.uint16)}
    if label is not None:
        out["label"] = label
    return out


def write(path, splits, kind, chunk=8):
    train = splits["train"]
    stats = normalisation_statistics(train["label_free"], train["fluorescence"], train["mask"]) if len(
        train["mask"]) else None
    return write_dataset(path, splits, None, stats, kind=kind, sources=["phantom"], chunk=chunk)


@pytest.fixture(scope="session")
def segmentation_dataset(tmp_path_factory):
    splits = {name: items(*discs(n, seed)) for name, n, seed in (("train", 40, 0), ("val", 12, 1), ("test", 12, 2))}
    return write(tmp_path_factory.mktemp("tasks") / "segmentation", splits, "segmentation")


@pytest.fixture(scope="session")
def classification_dataset(tmp_path_factory):
    splits = {name: items(*nuclei(n, seed)) for name, n, seed in (("train", 40, 0), ("val", 12, 1), ("test", 12, 2))}
    return write(tmp_path_factory.mktemp("tasks") / "classification", splits, "classification")


@pytest.fixture(scope="session")
def phantom():
    """The helpers above, for tests that build their own (degenerate) datasets."""
    return SimpleNamespace(discs=discs, nuclei=nuclei, items=items, write=write)

import numpy as np
import pytest
import torch
import zarr

from stainworth.errors import InputDataError
from stainworth.stainers.batches import PairedBatches
from stainworth.stainers.normalise import PercentileNormaliser

IDENTITY = (PercentileNormaliser(0.0, 1.0), PercentileNormaliser(0.0, 1.0))


def numbered(n, size=4):
    """Item k is filled with the value k (so batches reveal which items they hold)."""
    return np.repeat(np.arange(n, dtype=np.float32), size * size).reshape(n, size, size)


def items(batches, epoch, seed=0, shuffle=True):
    return [int(v) for x, _ in batches.epoch(epoch, seed=seed, shuffle=shuffle) for v in x[:, 0, 0, 0]]


def test_an_epoch_visits_every_item_once_in_an_order_set_by_seed_and_epoch(tmp_path):
    data = zarr.create_array(str(tmp_path / "a.zarr"), shape=(50, 4, 4), chunks=(8, 4, 4), dtype="float32")
    data[:] = numbered(50)
    batches = PairedBatches(data, data, IDENTITY, batch_size=7, group=2)
    first = items(batches, 1)
    assert sorted(first) == list(range(50))
    assert first != list(range(50))
    assert items(batches, 1) == first
    assert items(batches, 2) != first
    assert items(batches, 0, shuffle=False) == list(range(50))
    assert [len(x) for x, _ in batches.epoch(1, seed=0)] == [7] * 7 + [1]
    assert len(batches) == 8


def test_pairs_stay_paired_and_are_normalised():
    label_free, fluorescence = numbered(10), 2 * numbered(10) + 1
    normalisers = (PercentileNormaliser(0.0, 10.0), PercentileNormaliser(1.0, 21.0))
    for x, y in PairedBatches(label_free, fluorescence, normalisers, batch_size=3, chunk=4).epoch(3, seed=1):
        assert x.shape[1:] == (1, 4, 4) and x.dtype == torch.float32
        assert torch.allclose(y, x)  # (2k + 1 - 1) / 20 == k / 10


def test_limit_uses_the_first_items():
    batches = PairedBatches(numbered(30), numbered(30), IDENTITY, batch_size=4, limit=9)
    assert sorted(items(batches, 1)) == list(range(9))


def test_mismatched_pairs_are_refused():
    with pytest.raises(InputDataError, match=r"train: label-free \(5, 4, 4\) and fluorescence \(5, 4, 6\) do not pair"):
        PairedBatches(np.zeros((5, 4, 4)), np.zeros((5, 4, 6)), IDENTITY, batch_size=2, where="train")

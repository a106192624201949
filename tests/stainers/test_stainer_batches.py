import numpy as np
import pytest
import torch
import zarr

from stainworth.errors import InputDataError
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.stainers.batches import PairedBatches

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


def _symmetries(image):
    return [np.rot90(variant, k) for variant in (image, image.T) for k in range(4)]


@pytest.mark.parametrize(("augment", "count"), [("dihedral", 8), ("flips", 4)])
def test_augmentation_moves_input_and_target_together_through_the_symmetries(augment, count):
    rng = np.random.default_rng(0)
    base = rng.random((1, 6, 6), dtype=np.float32)
    label_free = np.repeat(base, 64, axis=0) + np.arange(64, dtype=np.float32)[:, None, None]
    batches = PairedBatches(label_free, 3 * label_free, IDENTITY, batch_size=16, augment=augment)
    seen = set()
    for x, y in batches.epoch(1, seed=0):
        assert torch.equal(y, 3 * x)
        for image in x[:, 0].numpy():
            offset = float(np.floor(image.min() - base.min() + 0.5))
            matches = [k for k, variant in enumerate(_symmetries(base[0] + offset)) if np.array_equal(image, variant)]
            assert len(matches) == 1, "an augmented item is not a symmetry of its source"
            seen.add(matches[0])
    assert len(seen) == count


def test_augmentation_depends_on_seed_and_epoch_only_and_never_touches_unshuffled_epochs():
    data = np.random.default_rng(1).random((20, 5, 5), dtype=np.float32)
    batches = PairedBatches(data, data, IDENTITY, batch_size=4, augment="dihedral")
    first = [x.clone() for x, _ in batches.epoch(2, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, [x for x, _ in batches.epoch(2, seed=3)], strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, [x for x, _ in batches.epoch(3, seed=3)], strict=True))
    plain = torch.cat([x for x, _ in batches.epoch(0, seed=0, shuffle=False)])
    assert torch.equal(plain[:, 0], torch.from_numpy(data))


def test_dihedral_augmentation_of_items_that_are_not_square_is_refused():
    with pytest.raises(InputDataError, match=r"train: dihedral augmentation needs square items, found \(4, 6\)"):
        PairedBatches(np.zeros((5, 4, 6)), np.zeros((5, 4, 6)), IDENTITY, batch_size=2, augment="dihedral",
                      where="train")

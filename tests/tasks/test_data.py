"""Task batches: decoded once, normalised, deterministic, augmented consistently, degenerate splits refused."""

import shutil

import numpy as np
import pytest
import torch

from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.tasks.data import TaskBatches


def normaliser(dataset, field="label_free"):
    return PercentileNormaliser.from_statistics(dataset.stats, field)


def gather(batches, epoch=1, seed=0, shuffle=True):
    pairs = list(batches.epoch(epoch, seed=seed, shuffle=shuffle))
    return torch.cat([x for x, _ in pairs]).numpy(), torch.cat([y for _, y in pairs]).numpy()


def test_segmentation_batches_are_normalised_images_and_float_masks(segmentation_dataset):
    norm = normaliser(segmentation_dataset, "fluorescence")
    batches = TaskBatches(segmentation_dataset, "val", "fluorescence", norm, batch_size=5)
    assert batches.task == "segmentation" and batches.size == 12 and len(batches) == 3
    shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in batches.epoch(0, seed=0, shuffle=False)]
    assert shapes == [((5, 1, 32, 32), (5, 1, 32, 32))] * 2 + [((2, 1, 32, 32), (2, 1, 32, 32))]
    x, y = gather(batches, shuffle=False)
    assert x.dtype == y.dtype == np.float32
    arrays = segmentation_dataset.arrays("val")
    np.testing.assert_array_equal(x[:, 0], norm.apply(arrays["fluorescence"][:]))
    np.testing.assert_array_equal(y[:, 0], arrays["mask"][:].astype(np.float32))


def test_classification_targets_are_float_labels(classification_dataset):
    batches = TaskBatches(classification_dataset, "train", "label_free", normaliser(classification_dataset),
                          batch_size=16)
    x, y = gather(batches, shuffle=False)
    assert x.shape == (40, 1, 32, 32) and y.shape == (40,) and y.dtype == np.float32
    np.testing.assert_array_equal(y, classification_dataset.arrays("train")["label"][:])


def test_epochs_cover_every_item_once_in_an_order_fixed_by_seed_and_epoch(segmentation_dataset):
    batches = TaskBatches(segmentation_dataset, "train", "label_free", normaliser(segmentation_dataset), batch_size=8)
    ordered, _ = gather(batches, shuffle=False)
    first, again, other_epoch, other_seed = (gather(batches, e, s)[0] for e, s in ((1, 0), (1, 0), (2, 0), (1, 1)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_epoch) and not np.array_equal(first, other_seed)
    means = np.sort(first.mean(axis=(1, 2, 3)))
    np.testing.assert_array_equal(means, np.sort(ordered.mean(axis=(1, 2, 3))))


def test_a_small_subset_is_passed_over_repeatedly_to_fill_its_epoch(classification_dataset):
    chosen = [0, 3, 5, 21, 30, 38]
    plain = TaskBatches(classification_dataset, "train", "label_free", normaliser(classification_dataset),
                        batch_size=4, indices=chosen, augment="dihedral")
    filled = TaskBatches(classification_dataset, "train", "label_free", normaliser(classification_dataset),
                         batch_size=4, indices=chosen, augment="dihedral", min_epoch_items=16)
    assert (filled.size, filled.items_per_epoch, len(filled), len(plain)) == (6, 16, 4, 2)
    x, y = gather(filled)
    assert x.shape == (16, 1, 32, 32)
    labels = classification_dataset.arrays("train")["label"][:][chosen]
    ordered = gather(filled, shuffle=False)[0]
    identity = {round(float(np.abs(item).sum()), 2): label for item, label in zip(ordered, labels, strict=True)}
    sums = [round(float(np.abs(item).sum()), 2) for item in x]  # a symmetry of the square keeps an image's absolute sum
    passes = [sorted(sums[k:k + 6]) for k in (0, 6)]
    assert passes[0] == passes[1] == sorted(identity)  # each full pass shows every item once
    assert set(sums[12:]) <= set(identity) and len(set(sums[12:])) == 4  # the last pass is cut short
    np.testing.assert_array_equal(y, [identity[value] for value in sums])  # labels stay with their images
    np.testing.assert_array_equal(x, gather(filled)[0])  # a function of (seed, epoch)
    assert not np.array_equal(x, gather(filled, epoch=2)[0])
    assert sum(len(b) for b, _ in filled.epoch(1, seed=0, shuffle=False)) == 6  # validation order: one pass


def test_min_epoch_items_at_or_below_the_size_changes_nothing(classification_dataset):
    args = (classification_dataset, "train", "label_free", normaliser(classification_dataset))
    plain = TaskBatches(*args, batch_size=16, augment="dihedral")
    for limit in (None, 10, 40):
        same = TaskBatches(*args, batch_size=16, augment="dihedral", min_epoch_items=limit)
        np.testing.assert_array_equal(gather(same)[0], gather(plain)[0])
        assert same.describe() == plain.describe()
    assert TaskBatches(*args, batch_size=16, min_epoch_items=41).describe() != TaskBatches(*args,
                                                                                          batch_size=16).describe()


def test_indices_select_a_subset_across_chunks(segmentation_dataset):
    chosen = [33, 2, 9, 17, 8]
    batches = TaskBatches(segmentation_dataset, "train", "label_free", normaliser(segmentation_dataset), batch_size=4,
                          indices=chosen)
    np.testing.assert_array_equal(batches.indices, sorted(chosen))
    x, y = gather(batches, shuffle=False)
    arrays = segmentation_dataset.arrays("train")
    np.testing.assert_array_equal(x[:, 0], batches.normaliser.apply(arrays["label_free"][:][sorted(chosen)]))
    np.testing.assert_array_equal(y[:, 0], arrays["mask"][:][sorted(chosen)])
    assert batches.describe() != TaskBatches(segmentation_dataset, "train", "label_free", normaliser(
        segmentation_dataset), batch_size=4, indices=[2, 8, 9, 17, 34]).describe()


def test_the_split_is_decoded_once_so_epochs_never_read_the_dataset(segmentation_dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(segmentation_dataset.path, copy)
    from stainworth.datasets import open_dataset

    dataset = open_dataset(copy)
    batches = TaskBatches(dataset, "train", "label_free", normaliser(dataset), batch_size=8, augment="dihedral")
    shutil.rmtree(copy)
    assert sum(len(x) for x, _ in batches.epoch(3, seed=1)) == 40


def test_dihedral_augmentation_moves_image_and_mask_together(segmentation_dataset):
    norm = PercentileNormaliser(0.0, 1.0)
    plain = TaskBatches(segmentation_dataset, "train", "label_free", norm, batch_size=8)
    augmented = TaskBatches(segmentation_dataset, "train", "label_free", norm, batch_size=8, augment="dihedral")
    x, y = gather(augmented, 2, 5)
    x_plain, y_plain = gather(plain, 2, 5)
    assert not np.array_equal(x, x_plain)  # same order, but some items were rotated or reflected
    # the phantom's mask is where the image is bright: that must still hold after the symmetry
    agreement = ((x > 0.5) == (y > 0.5)).mean()
    assert agreement > 0.98
    # the symmetry applied to each item is one of the eight of the square
    for image, original in zip(x[:, 0], x_plain[:, 0], strict=True):
        variants = [np.rot90(v, k) for v in (original, original.T) for k in range(4)]
        assert any(np.array_equal(image, v) for v in variants)


def test_classification_augmentation_leaves_labels_with_their_images(classification_dataset):
    batches = TaskBatches(classification_dataset, "train", "label_free", PercentileNormaliser(0.0, 1.0),
                          batch_size=8, augment="flips")
    x, y = gather(batches, 4, 2)
    bright = x[:, 0, 12:20, 12:20].mean(axis=(1, 2)) > 0.7  # the centre of every nucleus: 1.0 treated, 0.4 control
    np.testing.assert_array_equal(bright, y == 1)


def test_unshuffled_epochs_are_not_augmented(segmentation_dataset):
    norm = normaliser(segmentation_dataset)
    plain = TaskBatches(segmentation_dataset, "val", "label_free", norm, batch_size=8)
    augmented = TaskBatches(segmentation_dataset, "val", "label_free", norm, batch_size=8, augment="dihedral")
    np.testing.assert_array_equal(gather(plain, shuffle=False)[0], gather(augmented, shuffle=False)[0])


def one_class(phantom, tmp_path):
    image, mask, label = phantom.nuclei(6, 0)
    splits = {"train": phantom.items(image, mask, label), "val": phantom.items(image, mask, np.ones(6, np.uint8))}
    return phantom.write(tmp_path / "one", splits, "classification")


@pytest.mark.parametrize(("split", "kwargs", "message"), [
    ("val", {}, r"one split 'val': one class only: 0 control \(0\) and 6 treated \(1\) items; expected items of both"),
    ("train", {"indices": [0, 2, 4]}, r"one class only: 3 control \(0\) and 0 treated \(1\) items"),
    ("train", {"indices": [0, 6]}, r"'train': indices out of range \(found 0..6\); expected 0..5 for a split of 6"),
    ("train", {"indices": [-1, 2]}, r"indices out of range \(found -1..2\)"),
    ("train", {"indices": [0.5, 1.0]}, r"indices of shape \(2,\) and dtype float64; expected a 1-D array of integers"),
    ("train", {"indices": []}, r"split 'train': no items \(the indices select none of its 6 items\)"),
])
def test_degenerate_classification_splits_are_refused(phantom, tmp_path, split, kwargs, message):
    dataset = one_class(phantom, tmp_path)
    with pytest.raises(InputDataError, match=message):
        TaskBatches(dataset, split, "label_free", PercentileNormaliser(0.0, 1.0), batch_size=2, **kwargs)


def test_labels_other_than_control_and_treated_are_refused(phantom, tmp_path):
    image, mask, _ = phantom.nuclei(4, 0)
    dataset = phantom.write(tmp_path / "d", {"train": phantom.items(image, mask, np.array([0, 1, 2, 1], np.uint8))},
                            "classification")
    with pytest.raises(InputDataError, match=r"labels \[0, 1, 2\]; expected 0 \(control\) and 1 \(treated\) only"):
        TaskBatches(dataset, "train", "label_free", PercentileNormaliser(0.0, 1.0), batch_size=2)


def test_empty_splits_empty_masks_and_nan_pixels_are_refused(phantom, tmp_path):
    image, mask = phantom.discs(4, 0)
    poisoned = phantom.items(image.copy(), mask)
    poisoned["fluorescence"][1, 3, 3] = np.nan
    splits = {"train": phantom.items(image, mask), "val": phantom.items(image, np.zeros_like(mask)),
              "test": phantom.items(image[:0], mask[:0]), "bad": poisoned}
    dataset = phantom.write(tmp_path / "d", splits, "segmentation")
    norm = PercentileNormaliser(0.0, 1.0)
    with pytest.raises(InputDataError, match=r"d split 'test': no items \(the split is empty\); expected at least one"):
        TaskBatches(dataset, "test", "label_free", norm, batch_size=2)
    with pytest.raises(InputDataError, match=r"d split 'val': all 4 masks are empty; expected nuclei in at least one"):
        TaskBatches(dataset, "val", "label_free", norm, batch_size=2)
    with pytest.raises(InputDataError, match=r"split 'bad': 'fluorescence' has NaN/Inf pixels; expected finite"):
        TaskBatches(dataset, "bad", "fluorescence", norm, batch_size=2)
    with pytest.raises(InputDataError, match=r"no split 'holdout'"):
        TaskBatches(dataset, "holdout", "label_free", norm, batch_size=2)


def test_a_classification_dataset_without_labels_and_non_square_dihedral_are_refused(phantom, tmp_path):
    image, mask = phantom.discs(4, 0)
    unlabelled = phantom.write(tmp_path / "u", {"train": phantom.items(image, mask)}, "classification")
    with pytest.raises(InputDataError, match=r"split 'train': no label array .* expected label_free and label for"):
        TaskBatches(unlabelled, "train", "label_free", PercentileNormaliser(0.0, 1.0), batch_size=2)
    wide = phantom.write(tmp_path / "w", {"train": phantom.items(image[:, :16], mask[:, :16])}, "segmentation")
    with pytest.raises(InputDataError, match=r"dihedral augmentation needs square items, found \(16, 32\)"):
        TaskBatches(wide, "train", "label_free", PercentileNormaliser(0.0, 1.0), batch_size=2, augment="dihedral")
    assert TaskBatches(wide, "train", "label_free", PercentileNormaliser(0.0, 1.0), batch_size=2,
                       augment="flips").size == 4


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"field": "mask"}, r"input field 'mask': expected one of label_free, fluorescence"),
    ({"batch_size": 0}, r"batch_size 0: expected an integer >= 1"),
    ({"augment": "rotate"}, r"augment 'rotate': expected one of none, flips, dihedral"),
    ({"min_epoch_items": 0}, r"min_epoch_items: found 0; expected an integer >= 1 or None"),
])
def test_bad_options_are_config_errors(segmentation_dataset, kwargs, message):
    arguments = {"field": "label_free", "batch_size": 4} | kwargs
    field = arguments.pop("field")
    with pytest.raises(ConfigError, match=message):
        TaskBatches(segmentation_dataset, "val", field, PercentileNormaliser(0.0, 1.0), **arguments)

import itertools

import numpy as np
import pandas as pd
import pytest

from stainworth.datasets import balance_and_split, sample_segmentation_patches, split_regions, validate_counts
from stainworth.errors import ConfigError, InputDataError


def overlaps(a, b, patch):
    """Boolean matrix: crop i of a overlaps crop j of b (square crops of side patch)."""
    dy = np.abs(a[:, None, 0] - b[None, :, 0])
    dx = np.abs(a[:, None, 1] - b[None, :, 1])
    return (dy < patch) & (dx < patch)


@pytest.mark.parametrize("region_split", ["bands", "blocks"])
@pytest.mark.parametrize("shape", [(96, 96), (80, 200), (210, 70)])
def test_no_crop_overlaps_a_crop_of_another_split(shape, region_split):
    patch, counts = 16, {"train": 40, "val": 10, "test": 15}
    positions = sample_segmentation_patches(shape, patch=patch, counts=counts, seed=3,
                                            region_split=region_split, block=20)
    assert {name: len(p) for name, p in positions.items()} == counts
    for first, second in itertools.combinations(positions, 2):
        assert not overlaps(positions[first], positions[second], patch).any(), (first, second)
    for name, array in positions.items():
        assert array.dtype == np.int64 and array.shape[1] == 2
        assert (array >= 0).all() and (array + patch <= np.array(shape)).all()
        assert len({tuple(p) for p in array}) == len(array), f"{name}: duplicate crops"


def test_exhaustive_pixel_ownership_on_a_tiny_mosaic():
    """Paint every crop's pixels with its split: no pixel may belong to two splits."""
    patch, shape = 4, (20, 14)
    for seed in range(20):
        positions = sample_segmentation_patches(shape, patch=patch, counts={"train": 12, "val": 3, "test": 3},
                                                seed=seed)
        owner = np.full(shape, -1)
        for k, array in enumerate(positions.values()):
            for y, x in array:
                window = owner[y:y + patch, x:x + patch]
                assert ((window == -1) | (window == k)).all()
                window[...] = k


def test_crops_lie_in_their_split_regions():
    regions = split_regions((600, 300), patch=64, counts={"train": 8, "val": 1, "test": 3}, seed=0)
    assert [r.split for r in regions] == ["train", "val", "test"]
    assert regions[0].y0 == 0 and regions[-1].y1 == 600 and all(r.x1 == 300 for r in regions)
    sizes = {r.split: r.positions(64) for r in regions}
    assert sizes["train"] > sizes["test"] > sizes["val"] >= 1


def test_same_seed_same_positions_other_seed_differs():
    kwargs = dict(patch=32, counts={"train": 50, "val": 10, "test": 10})
    a = sample_segmentation_patches((512, 512), seed=1, **kwargs)
    b = sample_segmentation_patches((512, 512), seed=1, **kwargs)
    c = sample_segmentation_patches((512, 512), seed=2, **kwargs)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train"], c["train"])


def test_too_small_mosaic_names_the_numbers():
    with pytest.raises(InputDataError, match=r"mosaic 500x500 px is too small for 3 .*256x256.* at least 768"):
        sample_segmentation_patches((500, 500), patch=256, counts={"train": 10, "val": 1, "test": 1}, seed=0)
    with pytest.raises(InputDataError, match=r"holds 4 blocks of 256 px; 5 splits need at least 5"):
        sample_segmentation_patches((512, 512), patch=128, counts={"a": 1, "b": 1, "c": 1, "d": 1, "e": 1},
                                    seed=0, region_split="blocks", block=256)


def test_more_crops_than_distinct_positions():
    with pytest.raises(InputDataError, match=r"split 'train': its region holds \d+ distinct 32x32 px crop positions "
                                             r"but 100000 were requested"):
        sample_segmentation_patches((128, 128), patch=32, counts={"train": 100000, "test": 1}, seed=0)


def test_bad_counts_and_options():
    with pytest.raises(ConfigError, match="counts.val: found -1"):
        validate_counts({"train": 1, "val": -1})
    with pytest.raises(ConfigError, match="every split is 0"):
        validate_counts({"train": 0})
    with pytest.raises(ConfigError, match="split name 'Train!'"):
        validate_counts({"Train!": 3})
    with pytest.raises(ConfigError, match="region_split: found 'stripes'"):
        sample_segmentation_patches((512, 512), patch=32, counts={"train": 1}, seed=0, region_split="stripes")
    with pytest.raises(ConfigError, match="block 16 px is smaller than the patch"):
        sample_segmentation_patches((512, 512), patch=32, counts={"train": 1}, seed=0, region_split="blocks", block=16)


def nuclei_table(n_control, n_treated):
    rows = [{"source": f"{cls}-field", "label_id": k + 1, "condition": cls, "bbox_y0": 5 * k, "bbox_x0": k}
            for cls, n in (("control", n_control), ("treated", n_treated)) for k in range(n)]
    return pd.DataFrame(rows)


def test_balance_is_one_to_one_per_split_without_reuse():
    table = nuclei_table(70, 50)
    drawn = balance_and_split(table, counts={"train": 60, "val": 20, "test": 20}, seed=5)
    assert list(dict.fromkeys(drawn["split"])) == ["train", "val", "test"]
    for split, n in {"train": 60, "val": 20, "test": 20}.items():
        part = drawn[drawn["split"] == split]
        assert len(part) == n
        assert (part["condition"] == "control").sum() == n // 2 == (part["label"] == 0).sum()
        assert ((part["label"] == 1) == (part["condition"] == "treated")).all()
    assert not drawn.duplicated(["source", "label_id"]).any()
    shuffled = table.sample(frac=1.0, random_state=0)
    again = balance_and_split(shuffled, counts={"train": 60, "val": 20, "test": 20}, seed=5)
    pd.testing.assert_frame_equal(drawn, again)


def test_balance_refuses_more_than_available_and_odd_counts():
    table = nuclei_table(30, 12)
    with pytest.raises(InputDataError, match=r"requested 15 nuclei per condition \(train 10, val 5\) but only "
                                             r"30 control and 12 treated nuclei are available"):
        balance_and_split(table, counts={"train": 20, "val": 10}, seed=0)
    with pytest.raises(ConfigError, match="counts.val: found 3; expected an even number"):
        balance_and_split(table, counts={"train": 4, "val": 3}, seed=0)

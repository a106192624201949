import numpy as np
import pytest
import zarr

from stainworth.contracts.manifest import directory_content_hash
from stainworth.contracts.phantom import PhantomConfig
from stainworth.datasets import (
    Mosaic,
    extract_segmentation_dataset,
    extract_segmentation_dataset_multi,
    open_dataset,
    sample_segmentation_patches,
    sample_segmentation_patches_multi,
)
from stainworth.errors import InputDataError
from stainworth.phantom import generate_acquisition

PATCH = 64
COUNTS = {"train": 24, "val": 6, "test": 6}


@pytest.fixture(scope="module")
def triple():
    """A registered mosaic triple built from the phantom's ground truth (486 x 486 px)."""
    config = PhantomConfig.model_validate({"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 256}})
    acq = generate_acquisition(config, condition="control", seed=11)
    rng = np.random.default_rng(0)
    label_free = acq.qpi_clean + rng.normal(0, 0.05, acq.qpi_clean.shape).astype(np.float32)
    fluorescence = np.stack([(acq.nuclei_labels > 0) * 900.0 + 100.0, np.full(acq.mosaic_shape, 7.0)]).astype(np.uint16)
    return label_free, fluorescence, acq.nuclei_labels


def positions_for(labels, seed=0):
    return sample_segmentation_patches(labels.shape, patch=PATCH, counts=COUNTS, seed=seed)


def test_crops_match_the_mosaic(triple, tmp_path):
    label_free, fluorescence, labels = triple
    positions = positions_for(labels)
    ds = extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "seg", patch=PATCH,
                                      source_id="ctrl-0", chunk=8, attrs={"pixel_size_um": 0.32})
    assert ds.kind == "segmentation" and ds.splits == ["train", "val", "test"] and ds.counts == COUNTS
    assert ds.attrs["sources"] == ["ctrl-0"] and ds.attrs["extra"]["pixel_size_um"] == 0.32
    for split, count in COUNTS.items():
        arrays = ds.arrays(split)
        assert set(arrays) == {"label_free", "fluorescence", "mask", "instances", "positions", "source"}
        assert arrays["instances"].dtype == np.int32
        assert arrays["label_free"].shape == (count, PATCH, PATCH) and arrays["label_free"].dtype == np.float32
        assert arrays["fluorescence"].dtype == np.float32 and arrays["mask"].dtype == np.uint8
        assert arrays["label_free"].chunks == (8, PATCH, PATCH)
        np.testing.assert_array_equal(arrays["positions"][:], positions[split])
        for k, (y, x) in enumerate(positions[split]):
            window = (slice(y, y + PATCH), slice(x, x + PATCH))
            np.testing.assert_array_equal(arrays["label_free"][k], label_free[window])
            np.testing.assert_array_equal(arrays["fluorescence"][k], fluorescence[0][window].astype(np.float32))
            np.testing.assert_array_equal(arrays["mask"][k], (labels[window] > 0).astype(np.uint8))
            instances, crop = arrays["instances"][k], labels[window]
            found = np.unique(instances[instances > 0])
            assert found.tolist() == list(range(1, len(np.unique(crop[crop > 0])) + 1))  # renumbered 1..k
            for value in found:  # one crop instance is one mosaic nucleus, whole inside the crop
                assert np.unique(crop[instances == value]).size == 1
                assert np.array_equal(instances == value, crop == crop[instances == value][0])
    stats = ds.stats
    assert stats["split"] == "train" and stats["n_items"] == COUNTS["train"]
    inside = stats["fluorescence"]["mask"]
    assert inside["p1"] == inside["p99_8"] == inside["mean"] == 1000.0


def test_same_inputs_same_bytes_and_zarr_input(triple, tmp_path):
    label_free, fluorescence, labels = triple
    positions = positions_for(labels, seed=4)
    first = extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "a", patch=PATCH)
    second = extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "b", patch=PATCH)
    assert directory_content_hash(first.path) == directory_content_hash(second.path)
    store = zarr.open_group(str(tmp_path / "mosaic.zarr"), mode="w")
    stored = {}
    for name, array in (("lf", label_free), ("fl", fluorescence), ("lab", labels)):
        chunks = (100, 100) if array.ndim == 2 else (1, 100, 100)
        stored[name] = store.create_array(name, shape=array.shape, chunks=chunks, dtype=array.dtype)
        stored[name][...] = array
    third = extract_segmentation_dataset(stored["lf"], stored["fl"], stored["lab"], positions, tmp_path / "c",
                                         patch=PATCH)
    assert directory_content_hash(third.path) == directory_content_hash(first.path)


def test_bad_inputs_leave_nothing(triple, tmp_path):
    label_free, fluorescence, labels = triple
    positions = positions_for(labels)
    with pytest.raises(InputDataError, match=r"label-free 486x486, fluorescence 480x486 and labels 486x486 px differ"):
        extract_segmentation_dataset(label_free, fluorescence[:, :480], labels, positions, tmp_path / "x", patch=PATCH)
    bad = {"train": np.array([[0, 450]])}
    with pytest.raises(InputDataError, match=r"positions.train: crop at \(y 0, x 450\) of 64 px leaves the 486x486"):
        extract_segmentation_dataset(label_free, fluorescence, labels, bad, tmp_path / "x", patch=PATCH)
    with pytest.raises(InputDataError, match="fluorescence_channel 2 is out of range for 2"):
        extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "x", patch=PATCH,
                                     fluorescence_channel=2)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
    extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "y", patch=PATCH)
    with pytest.raises(InputDataError, match="already exists and is not empty"):
        extract_segmentation_dataset(label_free, fluorescence, labels, positions, tmp_path / "y", patch=PATCH)
    assert open_dataset(tmp_path / "y").counts == COUNTS


def test_interrupted_write_is_removed(triple, tmp_path):
    label_free, fluorescence, labels = triple
    messages = []

    def progress(line):
        messages.append(line)
        if "val" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_segmentation_dataset(label_free, fluorescence, labels, positions_for(labels), tmp_path / "seg",
                                     patch=PATCH, chunk=4, progress=progress)
    assert messages[0] == "segmentation train 24/24"
    assert not (tmp_path / "seg").exists() and not (tmp_path / "seg.partial").exists()


def test_several_mosaics_share_the_counts_by_area(triple, tmp_path):
    label_free, fluorescence, labels = triple
    small = Mosaic(label_free[:300, :300], fluorescence[:, :300, :300], labels[:300, :300], source_id="small")
    large = Mosaic(label_free, fluorescence, labels, source_id="large")
    counts = {"train": 40, "val": 10, "test": 10}
    positions = sample_segmentation_patches_multi([small.shape, large.shape], patch=PATCH, counts=counts, seed=2)
    assert {name: len(p) for name, p in positions.items()} == counts
    share = (positions["train"][:, 0] == 1).mean()
    assert 0.65 < share < 0.8  # 486^2 / (486^2 + 300^2) = 0.72
    for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
        for source in (0, 1):
            a = positions[first][positions[first][:, 0] == source, 1:]
            b = positions[second][positions[second][:, 0] == source, 1:]
            near = (np.abs(a[:, None, :] - b[None, :, :]) < PATCH).all(axis=2)
            assert not near.any()
    ds = extract_segmentation_dataset_multi([small, large], positions, tmp_path / "multi", patch=PATCH)
    assert ds.attrs["sources"] == ["small", "large"]
    test = ds.arrays("test")
    for k, (source, y, x) in enumerate(positions["test"]):
        assert test["source"][k] == source
        mosaic = (small, large)[source]
        np.testing.assert_array_equal(test["label_free"][k], mosaic.label_free[y:y + PATCH, x:x + PATCH])
    with pytest.raises(InputDataError, match=r"positions.val: mosaic index 2; expected 0..1"):
        extract_segmentation_dataset_multi([small, large], {"val": np.array([[2, 0, 0]])}, tmp_path / "bad",
                                           patch=PATCH)

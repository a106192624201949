import numpy as np
import pandas as pd
import pytest

from stainworth.contracts.manifest import directory_content_hash
from stainworth.datasets import flatten_statistics, normalisation_statistics, open_dataset, write_dataset
from stainworth.errors import InputDataError


def arrays(n, size=12, seed=0, labelled=True):
    rng = np.random.default_rng(seed)
    out = {
        "label_free": rng.normal(size=(n, size, size)).astype(np.float32),
        "fluorescence": rng.uniform(0, 100, size=(n, size, size)).astype(np.float32),
        "mask": (rng.uniform(size=(n, size, size)) > 0.5).astype(np.uint8),
        "positions": rng.integers(0, 1000, size=(n, 2)),
        "source": np.zeros(n, np.uint16),
    }
    if labelled:
        out["label"] = (np.arange(n) % 2).astype(np.uint8)
    return out


def test_round_trip_with_table_stats_and_an_empty_split(tmp_path):
    data = {"train": arrays(10), "val": arrays(3, seed=1), "test": arrays(0)}
    table = pd.DataFrame({"split": ["train"] * 10 + ["val"] * 3, "area_px": np.arange(13)})
    stats = normalisation_statistics(data["train"]["label_free"], data["train"]["fluorescence"], data["train"]["mask"])
    ds = write_dataset(tmp_path / "ds", data, table, stats, kind="classification", sources=["a"], chunk=4,
                       attrs={"seed": 3})
    again = open_dataset(tmp_path / "ds")
    assert again.kind == "classification" and again.counts == {"train": 10, "val": 3, "test": 0}
    assert again.attrs["extra"] == {"seed": 3} and again.attrs["sources"] == ["a"]
    assert again.stats == ds.stats == stats
    for split, values in data.items():
        stored = again.arrays(split)
        assert set(stored) == set(values)
        for name, array in values.items():
            np.testing.assert_array_equal(stored[name][:], array)
    pd.testing.assert_frame_equal(again.table(), table)
    with pytest.raises(InputDataError, match=r"no split 'holdout'; has \['train', 'val', 'test'\]"):
        again.arrays("holdout")


def test_bytes_are_reproducible(tmp_path):
    for name in ("a", "b"):
        write_dataset(tmp_path / name, {"train": arrays(9)}, None, {"x": 1.0}, kind="segmentation")
    assert directory_content_hash(tmp_path / "a") == directory_content_hash(tmp_path / "b")


def test_open_refuses_what_is_not_a_dataset(tmp_path):
    with pytest.raises(InputDataError, match="no dataset here"):
        open_dataset(tmp_path)


def test_statistics_exact_on_known_values():
    label_free = np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10)
    fluorescence = np.ones_like(label_free)
    mask = np.zeros(label_free.shape, np.uint8)
    mask[:, :5] = 1
    stats = normalisation_statistics(label_free, fluorescence, mask, chunk=1)
    whole = stats["label_free"]["all"]
    assert whole["mean"] == pytest.approx(label_free.mean()) and whole["std"] == pytest.approx(label_free.std())
    assert whole["p1"] == pytest.approx(np.percentile(label_free, 1))
    assert whole["p99_8"] == pytest.approx(np.percentile(label_free, 99.8))
    assert stats["label_free"]["mask"]["max"] == 149.0 and stats["label_free"]["mask"]["n_pixels"] == 100
    assert stats["fluorescence"]["all"]["std"] == 0.0
    flat = flatten_statistics(stats)
    assert flat["norm.label_free.mask.max"] == 149.0 and all(isinstance(v, float) for v in flat.values())


def test_statistics_subsample_is_deterministic_and_close():
    rng = np.random.default_rng(1)
    label_free = rng.normal(5, 2, size=(40, 64, 64)).astype(np.float32)
    mask = np.ones(label_free.shape, np.uint8)
    first = normalisation_statistics(label_free, label_free, mask, max_samples=20000, seed=2)
    second = normalisation_statistics(label_free, label_free, mask, max_samples=20000, seed=2)
    assert first == second
    assert first["label_free"]["all"]["p1"] == pytest.approx(np.percentile(label_free, 1), abs=0.1)
    empty = normalisation_statistics(label_free, label_free, np.zeros_like(mask))
    assert empty["label_free"]["mask"]["mean"] is None and "norm.label_free.mask.mean" not in flatten_statistics(empty)


def test_a_writer_block_that_raises_leaves_nothing_and_one_that_ends_publishes(tmp_path):
    from stainworth.datasets.stats import dataset_statistics
    from stainworth.datasets.storage import DatasetWriter

    data = arrays(4, labelled=False)
    with pytest.raises(RuntimeError, match="interrupted"), DatasetWriter(
            tmp_path / "broken", kind="segmentation", item_shape=(12, 12), counts={"train": 4}, chunk=2) as writer:
        split = writer.split("train")
        split.add(**{name: values[0] for name, values in data.items()})
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with DatasetWriter(tmp_path / "ds", kind="segmentation", item_shape=(12, 12),
                       counts={"val": 1, "train": 4}, chunk=2) as writer:
        for name, count in (("val", 1), ("train", 4)):
            split = writer.split(name)
            for k in range(count):
                split.add(**{key: values[k] for key, values in data.items()})
            split.close()
        stats = dataset_statistics(writer.arrays, ["val", "train"], chunk=2)
        written = writer.publish(sources=["a"], stats=stats)
    assert stats["split"] == "train" and stats["n_items"] == 4
    assert {key: value for key, value in stats.items() if key != "split"} == normalisation_statistics(
        data["label_free"], data["fluorescence"], data["mask"], chunk=2)
    assert written.stats == stats and open_dataset(tmp_path / "ds").counts == {"val": 1, "train": 4}

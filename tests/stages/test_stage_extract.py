"""The extract stage: both datasets from labelled fields, manifests, store, bad requests."""

import json

import numpy as np
import pytest

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.prepare import ExtractConfig
from stainworth.datasets import open_dataset
from stainworth.errors import InputDataError
from stainworth.stages.extract import extract_datasets
from stainworth.store import open_store


def small_config(**classification):
    return ExtractConfig.model_validate({
        "seed": 1,
        "segmentation": {"patch_px": 64, "counts": {"train": 40, "val": 8, "test": 12}},
        "classification": {"canvas_px": 64, "counts": {"train": 60, "val": 10, "test": 20}, **classification},
    })


def test_both_datasets_written_described_and_published(phantom_fields, tmp_path):
    manifest = extract_datasets(small_config(), *phantom_fields, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert manifest.counts == {"segmentation_train": 40, "segmentation_val": 8, "segmentation_test": 12,
                               "classification_train": 60, "classification_val": 10, "classification_test": 20}
    seg = read_manifest(DatasetManifest, tmp_path / "out" / "segmentation")
    cls = read_manifest(DatasetManifest, tmp_path / "out" / "classification")
    assert seg.fluorescence_channel == "lamin_a_c" and cls.fluorescence_channel == "h3k27me3"
    assert seg.sources == ["phantom-control", "phantom-treated"] and seg.pixel_size_um == pytest.approx(0.32)
    assert cls.counts["nuclei_after_iqr"] <= cls.counts["nuclei_usable"] <= cls.counts["nuclei_measured"]
    assert "norm.label_free.mask.mean" in " ".join(seg.metrics)
    data = open_dataset(tmp_path / "out" / "classification" / "dataset.zarr")
    labels = np.asarray(data.arrays("test")["label"][:])
    assert labels.sum() == 10 and len(labels) == 20
    published = json.loads((tmp_path / "out" / "published.json").read_text())
    store = open_store(f"file://{tmp_path}/s")
    for kind in ("segmentation", "classification"):
        assert store.is_complete(published[kind])
        assert published[kind].startswith(f"datasets/{kind}-")


def test_missing_channel_names_what_exists(phantom_fields, tmp_path):
    config = small_config()
    config.segmentation.channel = "dapi"
    with pytest.raises(InputDataError, match=r"no fluorescence channel 'dapi'; it has \['lamin_a_c', 'h3k27me3'\]"):
        extract_datasets(config, *phantom_fields, tmp_path / "out", store_uri=f"file://{tmp_path}/s")


def test_more_nuclei_requested_than_exist(phantom_fields, tmp_path):
    config = small_config(counts={"train": 5000, "val": 10, "test": 20})
    with pytest.raises(InputDataError, match=r"only \d+ control and \d+ treated nuclei are available"):
        extract_datasets(config, *phantom_fields, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert not open_store(f"file://{tmp_path}/s").list()

"""The simulate stage as a library call: what it publishes, determinism, progress."""

import json

import numpy as np
import pandas as pd
import pytest

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.simulate import SimulateManifest
from stainworth.io.acquisition import load_tile, read_acquisition
from stainworth.io.ome import read_ome_tiff
from stainworth.phantom.publish import simulate_acquisitions
from stainworth.profiles import load_profile
from stainworth.store import open_store


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("simulate")
    config = load_profile("smoke").simulate
    manifest = simulate_acquisitions(config, root / "out", store_uri=f"file://{root}/store")
    return root, config, manifest


def test_stage_manifest_indexes_every_published_acquisition(smoke_run):
    root, config, manifest = smoke_run
    assert manifest == read_manifest(SimulateManifest, root / "out")
    index = pd.read_csv(root / "out" / "acquisitions.csv")
    assert list(index["condition"]) == ["control", "treated"]
    assert dict(zip(index["store_key"], index["content_hash"], strict=True)) == manifest.acquisitions
    assert manifest.counts == {"acquisitions": 2, "tiles": 8, "cells": int(index["cells"].sum())}
    assert manifest.metrics["tile_megapixels_per_second"] > 0
    assert manifest.config == config.model_dump(mode="json")


def test_published_acquisition_is_complete_and_readable(smoke_run, tmp_path):
    root, config, manifest = smoke_run
    key = sorted(manifest.acquisitions)[1]
    folder = open_store(f"file://{root}/store").fetch_dir(key, tmp_path / "acq")
    acquisition = read_acquisition(folder)
    assert isinstance(acquisition, AcquisitionManifest) and acquisition.condition == "treated"
    assert acquisition.label_free_modality == "qpi"
    assert [c.name for c in acquisition.channels] == ["label_free", "lamin_a_c", "h3k27me3"]
    assert acquisition.tile_size_yx == (384, 384) and len(acquisition.tiles) == 4
    qpi = load_tile(folder, acquisition.tiles[0], "label_free")
    fluorescence = load_tile(folder, acquisition.tiles[0], "fluorescence")
    assert qpi.shape == (384, 384) and qpi.dtype == np.float32
    assert fluorescence.shape == (2, 384, 384) and fluorescence.dtype == np.uint16
    labels = read_ome_tiff(folder / acquisition.ground_truth["nuclei_labels"])
    assert labels.pixel_size_um == pytest.approx(0.32) and labels.data.max() > 0
    cells = pd.read_csv(folder / acquisition.ground_truth["cells"])
    assert {"centroid_y", "centroid_x", "mitotic", "condition"} <= set(cells.columns)
    assert len(cells) == acquisition.counts["cells"] == len(np.unique(labels.data)) - 1
    geometry = json.loads((folder / acquisition.ground_truth["geometry"]).read_text())
    assert np.asarray(geometry["fluorescence_to_qpi_affine_xy"]).shape == (2, 3)
    assert len(geometry["true_positions_yx"]) == 4


def test_same_config_same_content_hashes(smoke_run, tmp_path):
    _, config, manifest = smoke_run
    again = simulate_acquisitions(config, tmp_path / "out", store_uri=f"file://{tmp_path}/store")
    assert again.acquisitions == manifest.acquisitions
    other = simulate_acquisitions(config.model_copy(update={"seed": 1}), tmp_path / "out2",
                                  store_uri=f"file://{tmp_path}/store")
    assert set(other.acquisitions.values()).isdisjoint(manifest.acquisitions.values())


def test_progress_lines(smoke_run, tmp_path, capsys):
    _, config, _ = smoke_run
    simulate_acquisitions(config.model_copy(update={"conditions": ["treated"]}), tmp_path / "o",
                          store_uri=f"file://{tmp_path}/s")
    out = capsys.readouterr().out
    assert "simulate 1/1 phantom-" in out and "ETA" in out

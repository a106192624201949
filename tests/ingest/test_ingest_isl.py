"""The real ISL example (phase contrast + DAPI, Apache-2.0) through ingest and the segmentation extract."""

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu

from stainworth.datasets import extract_segmentation_dataset, sample_segmentation_patches
from stainworth.ingest import ingest_acquisition, load_ingest_spec
from stainworth.io.acquisition import load_tile, read_acquisition

ISL = Path(__file__).resolve().parent.parent / "data" / "isl_rat_neurons_a4"


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    out = tmp_path_factory.mktemp("isl") / "acquisition"
    lines = []
    manifest = ingest_acquisition(ISL / "ingest.yaml", out, progress=lines.append)
    assert lines == ["ingest tile 1/1"]
    return out, manifest


def test_license_travels_with_the_data():
    assert "Apache License" in (ISL / "LICENSE").read_text()
    assert load_ingest_spec(ISL / "ingest.yaml").condition is None


def test_isl_example_becomes_a_valid_acquisition(acquisition):
    out, manifest = acquisition
    read = read_acquisition(out)
    assert read == manifest
    assert read.source == "ingested" and read.condition is None and read.label_free_modality == "phase_contrast"
    assert read.tile_size_yx == (1024, 1024) and read.overlap == 0.0 and len(read.tiles) == 1
    assert read.tiles[0].position_yx == (0, 0)
    units = {c.name: (c.role, c.unit, c.dtype) for c in read.channels}
    assert units == {"label_free": ("label_free", "a.u.", "float32"), "dapi": ("fluorescence", "counts", "uint16")}
    label_free = load_tile(out, read.tiles[0], "label_free")
    assert label_free.dtype == np.float32
    np.testing.assert_array_equal(label_free, iio.imread(ISL / "phase_contrast_z6.png").astype(np.float32))
    dapi = load_tile(out, read.tiles[0], "fluorescence")
    np.testing.assert_array_equal(dapi.reshape(1024, 1024), iio.imread(ISL / "dapi_confocal_maxproject.png"))
    assert set(read.input_hashes) == {"spec", "label_free.files[0]", "fluorescence[0].file"}
    assert not list(out.parent.glob(".*partial"))


def test_same_spec_same_content(acquisition, tmp_path):
    out, manifest = acquisition
    again = ingest_acquisition(ISL / "ingest.yaml", tmp_path / "again")
    assert again.content_hash == manifest.content_hash


def test_isl_field_gives_a_segmentation_dataset(acquisition, tmp_path):
    """Real data through the extract step (Otsu labels stand in for the label stage)."""
    out, manifest = acquisition
    label_free = load_tile(out, manifest.tiles[0], "label_free")
    dapi = load_tile(out, manifest.tiles[0], "fluorescence").reshape(label_free.shape)
    smooth = ndimage.gaussian_filter(dapi.astype(np.float32), 2)
    labels, count = ndimage.label(smooth > threshold_otsu(smooth))
    assert 20 < count < 200
    positions = sample_segmentation_patches(label_free.shape, patch=256, counts={"train": 12, "val": 2, "test": 4},
                                            seed=0)
    ds = extract_segmentation_dataset(label_free, dapi, labels, positions, tmp_path / "seg", patch=256,
                                      source_id=manifest.acquisition_id,
                                      attrs={"label_free_unit": "a.u.", "modality": "phase_contrast"})
    assert ds.counts == {"train": 12, "val": 2, "test": 4}
    assert 0 <= ds.stats["label_free"]["all"]["p1"] < ds.stats["label_free"]["all"]["p99_8"] <= 65535


def test_multi_plane_spec(tmp_path):
    for name in ("phase_contrast_z3.png", "phase_contrast_z6.png", "phase_contrast_z9.png",
                 "dapi_confocal_maxproject.png"):
        shutil.copy(ISL / name, tmp_path / name)
    text = (ISL / "ingest.yaml").read_text().replace(
        "files: [phase_contrast_z6.png]",
        "files: [phase_contrast_z3.png, phase_contrast_z6.png, phase_contrast_z9.png]")
    (tmp_path / "middle.yaml").write_text(text)
    (tmp_path / "mean.yaml").write_text(text.replace("z_combine: middle", "z_combine: mean"))
    middle = ingest_acquisition(tmp_path / "middle.yaml", tmp_path / "a")
    mean = ingest_acquisition(tmp_path / "mean.yaml", tmp_path / "b")
    planes = [iio.imread(tmp_path / f"phase_contrast_z{z}.png").astype(np.float64) for z in (3, 6, 9)]
    middle_plane = load_tile(tmp_path / "a", middle.tiles[0], "label_free")
    np.testing.assert_array_equal(middle_plane, planes[1].astype(np.float32))
    mean_plane = load_tile(tmp_path / "b", mean.tiles[0], "label_free")
    np.testing.assert_allclose(mean_plane, np.mean(planes, axis=0), rtol=1e-6)
    assert middle.counts["label_free_planes"] == 3

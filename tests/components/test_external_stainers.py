"""The external_stainers component body, called directly on the smoke profile's prepared phantom fields.

A pre-computed stainer whose images are an affine function of the label-free tiles, and an ONNX model
computing one, must give virtual items that are affine functions of the label-free items, cut at the
same places with the same masks; every wrong input ends with one line and writes nothing.
"""

from pathlib import Path

import numpy as np
import pytest
import tifffile
from kfp import dsl

from stainworth.components.external_stainers import external_stainers
from stainworth.components.extract import extract
from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.io.acquisition import load_tile

from .conftest import STAIN_CONFIG


def acquisitions(store_uri):
    root = Path(store_uri.removeprefix("file://")) / "acquisitions"
    return {folder.name: (folder, read_manifest(AcquisitionManifest, folder))
            for folder in sorted(root.iterdir()) if (folder / "manifest.json").is_file()}


def write_precomputed(store_uri, target):
    """``3 x`` of every label-free tile, as TIFF, in the acquisitions' layout (proportional, so that the
    mosaic's fill of 0 where no tile lies stays the same function of the label-free mosaic)."""
    for acquisition_id, (folder, manifest) in acquisitions(store_uri).items():
        for tile in manifest.tiles:
            path = target / acquisition_id / tile.files["label_free"].replace(".ome.tif", ".tif")
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, 3 * load_tile(folder, tile, "label_free").astype(np.float32))
    return target


@pytest.fixture(scope="module")
def extracted(prepared_outputs, smoke_prepare, tmp_path_factory):
    made, store_uri = prepared_outputs
    datasets = dsl.Dataset(name="datasets", uri=str(tmp_path_factory.mktemp("external-extract") / "datasets"))
    extract.python_func(config=smoke_prepare[0], store_uri=store_uri, stitched=made["stitched"],
                        registered=made["registered"], labelled=made["labelled"], datasets=datasets)
    return datasets


def run(prepared_outputs, smoke_prepare, extracted, external, out, kind="segmentation"):
    made, store_uri = prepared_outputs
    virtual = dsl.Dataset(name="virtual", uri=str(out))
    external_stainers.python_func(config={**STAIN_CONFIG, "external": external}, prepare_config=smoke_prepare[0],
                                  kind=kind, store_uri=store_uri, stitched=made["stitched"], datasets=extracted,
                                  virtual=virtual)
    return virtual


@pytest.mark.parametrize("kind", ["segmentation", "classification"])
def test_pre_computed_images_and_an_onnx_model_become_paired_virtual_datasets(prepared_outputs, smoke_prepare,
                                                                              extracted, tmp_path, affine_onnx, kind):
    images = write_precomputed(prepared_outputs[1], tmp_path / "precomputed")
    model = affine_onnx(tmp_path / "affine.onnx")
    virtual = run(prepared_outputs, smoke_prepare, extracted,
                  [{"name": "precomputed", "images": str(images)}, {"name": "onnxnet", "model": str(model)}],
                  tmp_path / "out", kind)
    _, source = read_dataset(dataset_folder(extracted.path, kind), kind)
    assert virtual.metadata["counts"] == {"stainers": 2}
    for name in ("virtual_precomputed", "virtual_onnxnet"):
        folder = Path(virtual.path) / name
        manifest = read_manifest(DatasetManifest, folder)
        assert manifest.stage == "external_stainers" and manifest.input_hashes[kind] == read_manifest(
            DatasetManifest, dataset_folder(extracted.path, kind)).content_hash
        _, made = read_dataset(folder, kind)
        for split in source.splits:
            real, own = source.arrays(split), made.arrays(split)
            for field in ("label_free", "mask", "positions", "source") + (("instances",) if kind == "segmentation"
                                                                           else ()):
                np.testing.assert_array_equal(own[field][:], real[field][:])
            label_free, stained, mask = (np.asarray(a[:], np.float64) for a in (real["label_free"], own["fluorescence"],
                                                                                 real["mask"]))
            for k in range(len(label_free)):  # each virtual item is an affine function of its label-free item
                inside = mask[k] > 0 if kind == "classification" else np.ones_like(mask[k], bool)
                assert np.corrcoef(label_free[k][inside], stained[k][inside])[0, 1] > 0.9999
                if kind == "classification":
                    assert not stained[k][~inside].any()
        assert manifest.metrics["scale.factor"] > 0 and "test.ssim.mean" in manifest.metrics


def damage(kind, images, tmp_path):
    """Make one thing wrong with the pre-computed images; what the error line must say."""
    first = sorted(images.rglob("*.tif"))[0]
    if kind == "missing":
        first.unlink()
        return "has no image for 1 of"
    if kind == "extra":
        tifffile.imwrite(first.parent / "stray.tif", np.zeros((4, 4), np.float32))
        return "stray.tif matches no label-free tile"
    tifffile.imwrite(first, np.zeros((7, 9), np.float32))
    return "image of shape (7, 9); expected"


@pytest.mark.parametrize("kind", ["missing", "extra", "shape", "channels"])
def test_a_wrong_input_ends_with_one_line_before_anything_is_written(prepared_outputs, smoke_prepare, extracted,
                                                                     tmp_path, capsys, affine_onnx, kind):
    if kind == "channels":
        entry = {"name": "twochannel", "model": str(affine_onnx(tmp_path / "two.onnx", out_channels=2))}
        says = "stain.external[1].model: the ONNX model's output 'y' has shape"
    else:
        images = write_precomputed(prepared_outputs[1], tmp_path / "precomputed")
        says = damage(kind, images, tmp_path)
        entry = {"name": "broken", "images": str(images)}
    good = {"name": "fine", "model": str(affine_onnx(tmp_path / "fine.onnx"))}
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as ended:
        run(prepared_outputs, smoke_prepare, extracted, [good, entry], out)
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and error.startswith("stainworth-error:") and "\n" not in error
    assert says in error and not (out / "manifest.json").exists() and not (out / "virtual_fine").exists()


def test_pre_computed_images_and_a_model_in_an_s3_store_are_fetched(prepared_outputs, smoke_prepare, extracted,
                                                                   tmp_path, s3_env, new_bucket, affine_onnx):
    from stainworth.store import open_store

    images = write_precomputed(prepared_outputs[1], tmp_path / "precomputed")
    model = affine_onnx(tmp_path / "affine.onnx")
    bucket = new_bucket("external")
    store = open_store(f"s3://{bucket}/lab")
    for path in sorted(p for p in images.rglob("*") if p.is_file()):
        store.put_file(f"predictions/{path.relative_to(images)}", path)
    store.put_file("models/affine.onnx", model)
    local = run(prepared_outputs, smoke_prepare, extracted,
                [{"name": "local", "images": str(images)}], tmp_path / "local")
    fetched = run(prepared_outputs, smoke_prepare, extracted,
                  [{"name": "local", "images": f"s3://{bucket}/lab/predictions"},
                   {"name": "onnxnet", "model": f"s3://{bucket}/lab/models/affine.onnx"}], tmp_path / "fetched")
    same = [read_dataset(Path(v.path) / "virtual_local", "segmentation")[1].arrays("test")["fluorescence"][:]
            for v in (local, fetched)]
    np.testing.assert_array_equal(*same)
    assert (Path(fetched.path) / "virtual_onnxnet" / "manifest.json").is_file()

"""Phantom fixtures shared by the stage and component tests: upstream outputs built straight from ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr

from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import generate_acquisition
from stainworth.stages.fields import LABELS, MOSAIC, REGISTERED, field_path

HASH = "0" * 64


def paste(tiles, positions, shape):
    """Mosaic from tiles at their true positions (later tiles win in overlaps)."""
    mosaic = np.zeros(shape, np.float32)
    for tile, (y, x) in zip(tiles, positions, strict=True):
        mosaic[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return mosaic


def write_group(path, **arrays):
    group = zarr.open_group(str(path), mode="w")
    for name, data in arrays.items():
        group.create_array(name, data=data, chunks=data.shape[:-2] + (256, 256))


def write_stage(root, fields):
    write_manifest(FieldsManifest(stage="fixture", config={}, config_hash=HASH, fields=fields), root)


@pytest.fixture(scope="session")
def phantom_fields(tmp_path_factory):
    """(stitched, registered, labelled) roots with one control and one treated phantom field."""
    root = tmp_path_factory.mktemp("fields")
    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": 384, "overlap": 0.1})
    fields = {}
    for condition in ("control", "treated"):
        acquisition = generate_acquisition(config, condition=condition, seed=3)
        field_id = f"phantom-{condition}"
        shape = acquisition.mosaic_shape
        label_free = paste(acquisition.qpi_tiles, acquisition.true_positions, shape)
        channels = list(acquisition.fluorescence_tiles)
        fluorescence = np.stack([paste(acquisition.fluorescence_tiles[c], acquisition.true_positions, shape)
                                 for c in channels])
        write_group(field_path(root / "stitched", field_id, MOSAIC), label_free=label_free,
                    fluorescence=fluorescence)
        write_group(field_path(root / "registered", field_id, REGISTERED), fluorescence=fluorescence)
        write_group(field_path(root / "labelled", field_id, LABELS), nuclei=acquisition.nuclei_labels)
        fields[field_id] = FieldInfo(acquisition_id=field_id, condition=condition, pixel_size_um=0.32,
                                     label_free_modality="qpi", fluorescence_channels=channels,
                                     shape_yx=shape)
    for stage in ("stitched", "registered", "labelled"):
        write_stage(root / stage, fields)
    return root / "stitched", root / "registered", root / "labelled"


@pytest.fixture(scope="session")
def phantom_datasets(phantom_fields, tmp_path_factory):
    """An ``extract`` output with small segmentation and classification datasets of the phantom fields."""
    from stainworth.contracts.prepare import ExtractConfig
    from stainworth.stages.extract import extract_datasets

    root = tmp_path_factory.mktemp("datasets")
    config = ExtractConfig.model_validate({
        "seed": 2,
        "segmentation": {"patch_px": 64, "counts": {"train": 24, "val": 8, "test": 8}},
        "classification": {"canvas_px": 48, "counts": {"train": 20, "val": 6, "test": 6}},
    })
    extract_datasets(config, *phantom_fields, root / "extracted", store_uri=f"file://{root}/store")
    return root / "extracted"


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny tensors: a second thread only adds synchronisation
    (and stalls badly on a busy machine). Use with ``pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

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


@pytest.fixture(scope="session")
def evaluated_study(phantom_datasets, tmp_path_factory):
    """A small run of the whole chain on the phantom datasets: stainers, stain reports, units, both evaluations.

    Segmentation: EfficientUNet stainer only, capacity sweep (unet1, unet2). Classification: both
    stainers, capacity sweep (cnn1, cnn3) and learnable sweep (cnn1 on 6 and 8 images, 2 subsets).
    Returns ``(evaluations, stain_reports)``: folders by task and by dataset.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread only adds synchronisation
    try:
        return _evaluated_study(phantom_datasets, tmp_path_factory.mktemp("study"))
    finally:
        torch.set_num_threads(threads)


def _evaluated_study(phantom_datasets, root):
    from stainworth.contracts.stainer import StainConfig
    from stainworth.contracts.task import TasksConfig, TaskUnit
    from stainworth.stages.evaluate import evaluate_stage
    from stainworth.stages.stain import apply_stainer_stage, train_stainer_stage
    from stainworth.stages.stain_report import stain_report
    from stainworth.stages.task import train_task_stage

    store = f"file://{root}/store"
    stain = StainConfig.model_validate({"training": {"batch_size": 8, "max_epochs": 1, "pix2pixhd": {
        "ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2, "n_downsampling": 2}},
        "apply": {"batch_size": 8, "panels": 2}})
    stainers = {"segmentation": ("efficientunet",), "classification": ("efficientunet", "pix2pixhd")}
    virtual, reports = {}, {}
    for kind, architectures in stainers.items():
        virtual[kind] = {}
        for architecture in architectures:
            trained = root / f"stainer-{kind}-{architecture}"
            train_stainer_stage(stain, kind, architecture, phantom_datasets, trained, store_uri=store)
            apply_stainer_stage(stain, kind, trained, phantom_datasets, root / f"virtual-{kind}-{architecture}")
            virtual[kind][architecture] = root / f"virtual-{kind}-{architecture}"
        reports[kind] = root / f"stain-report-{kind}"
        stain_report(stain, kind, phantom_datasets, virtual[kind], reports[kind])
    tasks = TasksConfig.model_validate({
        "segmentation": {"architectures": ["unet1", "unet2"], "learnable": {"architecture": "unet1", "sizes": [6]},
                         "training": {"batch_size": 4, "max_epochs": 1}},
        "classification": {"architectures": ["cnn1", "cnn3"],
                           "learnable": {"architecture": "cnn1", "sizes": [6, 8], "subsets": 2},
                           "training": {"batch_size": 4, "max_epochs": 1}},
    })
    plans = {"segmentation": [("unet1", None, 0), ("unet2", None, 0)],
             "classification": [("cnn1", None, 0), ("cnn3", None, 0)] + [("cnn1", size, k) for size in (6, 8)
                                                                          for k in range(2)]}
    evaluations = {}
    for task, plan in plans.items():
        dirs = {"virtual_effunet": virtual[task]["efficientunet"]}
        if "pix2pixhd" in virtual[task]:
            dirs["virtual_pix2pixhd"] = virtual[task]["pix2pixhd"]
        units = []
        for architecture, size, subset in plan:
            for modality in ("label_free", *dirs, "fluorescence"):
                unit = TaskUnit(task=task, architecture=architecture, modality=modality, train_size=size,
                                subset=subset)
                train_task_stage(tasks, unit, phantom_datasets, root / unit.name, virtual_dirs=dirs, store_uri=store)
                units.append(root / unit.name)
        evaluations[task] = root / f"evaluate-{task}"
        evaluate_stage(tasks, task, units, phantom_datasets, evaluations[task], virtual_dirs=dirs, n_boot=200)
    return evaluations, reports

"""Which dataset and image field a task unit's modality reads."""

from __future__ import annotations

from pathlib import Path

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.task import VIRTUAL_MODALITIES, TaskUnit
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError


def modality_source(unit: TaskUnit, datasets_dir: str | Path, virtual_dirs: dict[str, str | Path]
                    ) -> tuple[DatasetManifest, Dataset, str]:
    """The manifest, opened dataset and image field a unit's modality reads."""
    if unit.modality in VIRTUAL_MODALITIES:
        if unit.modality not in virtual_dirs:
            raise InputDataError(f"train_task {unit.name}: no {unit.modality} dataset given; "
                                 f"expected the apply_stainer output of that stainer")
        folder = dataset_folder(virtual_dirs[unit.modality], unit.task)
    else:
        folder = dataset_folder(datasets_dir, unit.task)
    manifest, dataset = read_dataset(folder, unit.task)
    return manifest, dataset, "label_free" if unit.modality == "label_free" else "fluorescence"

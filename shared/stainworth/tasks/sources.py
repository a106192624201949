"""Which dataset and image field a task unit's modality reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.task import TaskUnit, is_virtual
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError


def modality_source(unit: TaskUnit, datasets_dir: str | Path, virtual_dirs: dict[str, str | Path]
                    ) -> tuple[DatasetManifest, Dataset, str]:
    """The manifest, opened dataset and image field a unit's modality reads."""
    if is_virtual(unit.modality):
        if unit.modality not in virtual_dirs:
            raise InputDataError(f"train_task {unit.name}: no {unit.modality} dataset given; "
                                 f"expected the apply_stainer output of that stainer")
        folder = dataset_folder(virtual_dirs[unit.modality], unit.task)
    else:
        folder = dataset_folder(datasets_dir, unit.task)
    manifest, dataset = read_dataset(folder, unit.task)
    return manifest, dataset, "label_free" if unit.modality == "label_free" else "fluorescence"


class ModalitySources:
    """Opened datasets by modality, opened once."""

    def __init__(self, datasets_dir: str | Path, virtual_dirs: dict[str, str | Path]) -> None:
        self.datasets_dir, self.virtual_dirs = datasets_dir, virtual_dirs
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, unit: TaskUnit) -> tuple[Any, str]:
        """The opened dataset and the image field of ``unit``'s modality."""
        key = (unit.task, unit.modality)
        if key not in self._cache:
            _, dataset, field = modality_source(unit, self.datasets_dir, self.virtual_dirs)
            self._cache[key] = (dataset, field)
        return self._cache[key]

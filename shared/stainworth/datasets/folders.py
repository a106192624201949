"""Datasets inside stage outputs: ``extract`` and ``apply_stainer`` write ``<output>/<kind>/dataset.zarr``."""

from __future__ import annotations

from pathlib import Path

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.stainer import DatasetKind
from stainworth.datasets.storage import Dataset, open_dataset
from stainworth.errors import InputDataError

DATASET_DIR = "dataset.zarr"
"""The dataset inside one dataset folder of a stage output."""


def dataset_folder(datasets_dir: str | Path, kind: DatasetKind) -> Path:
    """The folder of one dataset inside an ``extract`` output (or a fetched store copy)."""
    folder = Path(datasets_dir) / kind
    if not (folder / "manifest.json").is_file():
        folder = Path(datasets_dir)  # a single dataset folder
    return folder


def read_dataset(folder: Path, kind: DatasetKind) -> tuple[DatasetManifest, Dataset]:
    """Manifest and opened dataset, checked to be of ``kind``."""
    manifest = read_manifest(DatasetManifest, folder)
    if manifest.kind != kind:
        raise InputDataError(f"{folder}: a {manifest.kind} dataset; expected {kind}")
    return manifest, open_dataset(folder / DATASET_DIR)

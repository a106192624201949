"""Writing and reading acquisition folders (see :mod:`stainworth.contracts.acquisition`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stainworth.contracts.acquisition import AcquisitionManifest, TileInfo
from stainworth.contracts.manifest import read_manifest
from stainworth.errors import InputDataError
from stainworth.io.ome import read_ome_tiff


def read_acquisition(directory: str | Path) -> AcquisitionManifest:
    """Validate an acquisition folder's manifest and check every listed file exists."""
    root = Path(directory)
    manifest = read_manifest(AcquisitionManifest, root)
    for tile in manifest.tiles:
        for path in tile.files.values():
            if not (root / path).is_file():
                raise InputDataError(f"{root / path}: listed in the manifest but missing")
    return manifest


def load_tile(directory: str | Path, tile: TileInfo, group: str) -> np.ndarray:
    """Load one tile's ``label_free`` (Y, X) or ``fluorescence`` (C, Y, X) array."""
    if group not in tile.files:
        raise InputDataError(f"tile r{tile.row} c{tile.col}: no '{group}' file; has {sorted(tile.files)}")
    return read_ome_tiff(Path(directory) / tile.files[group]).data

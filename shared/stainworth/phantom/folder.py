"""Writing a rendered phantom acquisition as an acquisition folder (see :mod:`stainworth.contracts.acquisition`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stainworth.contracts.acquisition import AcquisitionManifest, ChannelInfo, TileInfo
from stainworth.contracts.base import StrictModel, config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.io.ome import write_ome_tiff
from stainworth.phantom.generate import Acquisition

FLUORESCENCE_MARKERS = {"lamin_a_c": "Lamin A/C", "h3k27me3": "H3K27me3"}


def phantom_channels(fluorescence_names: list[str]) -> list[ChannelInfo]:
    """Channel list of a phantom acquisition: QPI plus the fluorescence markers."""
    channels = [ChannelInfo(name="label_free", role="label_free", unit="rad", dtype="float32")]
    for name in fluorescence_names:
        marker = FLUORESCENCE_MARKERS.get(name, name)
        channels.append(
            ChannelInfo(name=name, role="fluorescence", marker=marker, unit="counts", dtype="uint16")
        )
    return channels


def write_phantom_acquisition(
    acquisition: Acquisition,
    directory: str | Path,
    *,
    acquisition_id: str,
    config: StrictModel,
    overlap: float,
) -> AcquisitionManifest:
    """Write a rendered phantom acquisition as an acquisition folder, manifest last.

    Parameters
    ----------
    acquisition
        Output of :func:`stainworth.phantom.generate_acquisition`.
    directory
        Folder to create; must not exist or be empty.
    acquisition_id
        Identifier recorded in the manifest.
    config
        The phantom configuration that produced it (saved in the manifest).
    overlap
        Nominal tile overlap fraction.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    pixel = float(acquisition.pixel_size_um)
    fluorescence_names = list(acquisition.fluorescence_tiles)
    tiles = []
    for index, (row, col) in enumerate(acquisition.tile_index):
        stem = f"tiles/r{row:03d}_c{col:03d}"
        label_free = f"{stem}_label_free.ome.tif"
        fluorescence = f"{stem}_fluorescence.ome.tif"
        write_ome_tiff(root / label_free, acquisition.qpi_tiles[index].astype(np.float32), axes="YX",
                       pixel_size_um=pixel)
        stack = np.stack([acquisition.fluorescence_tiles[name][index] for name in fluorescence_names])
        write_ome_tiff(root / fluorescence, stack.astype(np.uint16), axes="CYX", pixel_size_um=pixel,
                       channel_names=fluorescence_names)
        position = tuple(int(v) for v in acquisition.nominal_positions[index])
        tiles.append(TileInfo(row=row, col=col, position_yx=position,  # type: ignore[arg-type]
                              files={"label_free": label_free, "fluorescence": fluorescence}))
    ground_truth = _write_ground_truth(acquisition, root, pixel)
    tile_shape = acquisition.qpi_tiles[0].shape
    manifest = AcquisitionManifest(
        config=config.model_dump(mode="json"),
        config_hash=config_hash(config),
        counts=_counts(acquisition),
        paths={
            "tiles": [path for tile in tiles for path in tile.files.values()],
            "ground_truth": list(ground_truth.values()),
        },
        acquisition_id=acquisition_id,
        condition=acquisition.condition,  # type: ignore[arg-type]
        source="phantom",
        pixel_size_um=pixel,
        label_free_modality="qpi",
        channels=phantom_channels(fluorescence_names),
        tile_size_yx=(int(tile_shape[0]), int(tile_shape[1])),
        overlap=overlap,
        tiles=tiles,
        ground_truth=ground_truth,
    )
    return write_manifest(manifest, root)


def _counts(acquisition: Acquisition) -> dict[str, int]:
    cells = _cell_records(acquisition.cells)
    mitotic = sum(1 for cell in cells if cell.get("mitotic"))
    return {"tiles": len(acquisition.qpi_tiles), "cells": len(cells), "mitotic_cells": mitotic}


def _cell_records(cells: Any) -> list[dict[str, Any]]:
    """One flat dict per cell; ``(y, x)`` pairs become ``*_y`` and ``*_x`` columns."""
    records = []
    for cell in cells:
        is_record = dataclasses.is_dataclass(cell) and not isinstance(cell, type)
        record = dataclasses.asdict(cell) if is_record else dict(cell)
        flat: dict[str, Any] = {}
        for key, value in record.items():
            if key.endswith("_yx") and isinstance(value, (tuple, list)) and len(value) == 2:
                flat[f"{key[:-3]}_y"], flat[f"{key[:-3]}_x"] = float(value[0]), float(value[1])
            else:
                flat[key] = value
        records.append(flat)
    return records


def _write_ground_truth(acquisition: Acquisition, root: Path, pixel: float) -> dict[str, str]:
    paths = {
        "nuclei_labels": "ground_truth/nuclei_labels.ome.tif",
        "qpi_clean": "ground_truth/qpi_clean.ome.tif",
        "cells": "ground_truth/cells.csv",
        "geometry": "ground_truth/geometry.json",
    }
    write_ome_tiff(root / paths["nuclei_labels"], acquisition.nuclei_labels.astype(np.uint32), axes="YX",
                   pixel_size_um=pixel, compress=True)
    write_ome_tiff(root / paths["qpi_clean"], acquisition.qpi_clean.astype(np.float32), axes="YX",
                   pixel_size_um=pixel)
    table = pd.DataFrame(_cell_records(acquisition.cells))
    table.to_csv(root / paths["cells"], index=False)
    geometry = {
        "mosaic_shape": [int(v) for v in acquisition.mosaic_shape],
        "true_positions_yx": np.asarray(acquisition.true_positions).astype(int).tolist(),
        "nominal_positions_yx": np.asarray(acquisition.nominal_positions).astype(int).tolist(),
        "fluorescence_to_qpi_affine_xy": np.asarray(acquisition.fluorescence_to_qpi).tolist(),
    }
    (root / paths["geometry"]).write_text(json.dumps(geometry, indent=2))
    return paths

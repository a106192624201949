"""Where the per-field stages of ``prepare`` keep their arrays inside their outputs."""

from __future__ import annotations

from pathlib import Path

import zarr

from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.errors import InputDataError

ACQUIRED = "acquisitions.json"
"""Acquisition ids published by the first step of ``prepare`` (empty: use the store's)."""
FIELDS = "fields"
MOSAIC = "mosaic.zarr"
"""Stitch output: ``label_free`` (Y, X) float32 and ``fluorescence`` (C, Y', X') arrays."""
TILE_POSITIONS, TILE_SHAPE = "tile_positions_yx", "tile_shape_yx"
"""Attributes of the stitch output's mosaic group: each tile's top-left corner (y, x) in the mosaic, in the
acquisition manifest's order, and the tile size, so that images made per tile (an external stainer's)
are placed exactly like the label-free tiles."""
REGISTERED = "registered.zarr"
"""Register output: ``fluorescence`` (C, Y, X) float32 in the label-free frame."""
LABELS = "labels.zarr"
"""Label output: ``nuclei`` (Y, X) uint32 instance labels in the label-free frame."""
TRUTH = "truth.zarr"
"""Phantom only: ``nuclei`` ground-truth labels moved into the stitched frame."""


def field_path(root: str | Path, acquisition_id: str, name: str) -> Path:
    """``<root>/fields/<acquisition_id>/<name>``."""
    return Path(root) / FIELDS / acquisition_id / name


def open_field_array(root: str | Path, acquisition_id: str, group: str, array: str) -> zarr.Array:
    """Open one array of one field read-only, with a clear error when it is absent."""
    path = field_path(root, acquisition_id, group)
    try:
        opened = zarr.open_group(str(path), mode="r")
        found = opened[array]
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError):
        raise InputDataError(f"{path}: no array '{array}'; the upstream stage output is incomplete") from None
    if not isinstance(found, zarr.Array):
        raise InputDataError(f"{path}/{array}: expected an array, found a group")
    return found


def read_fields(root: str | Path) -> FieldsManifest:
    """The manifest of a stitch, register or label output."""
    return read_manifest(FieldsManifest, root)


def channel_index(field: FieldInfo, channel: str, *, setting: str) -> int:
    """Position of fluorescence ``channel`` in ``field``'s (C, Y, X) arrays.

    ``setting`` names the configuration field that chose the channel (``label.channel``), for the
    error raised when the field has no such channel.
    """
    if channel not in field.fluorescence_channels:
        raise InputDataError(f"field '{field.acquisition_id}': {setting} '{channel}' is not among its fluorescence "
                             f"channels {field.fluorescence_channels}")
    return field.fluorescence_channels.index(channel)

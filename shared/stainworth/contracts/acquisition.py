"""The acquisition format: tiles of co-registered label-free and fluorescence channels.

An acquisition is a folder holding one field of view of one condition as overlapping tiles, with
a manifest naming every file, the channel roles, the pixel size and the nominal tile positions
reported by the stage. Phantom acquisitions also carry ground truth for validation only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stainworth.contracts.base import StrictModel
from stainworth.contracts.manifest import OutputManifest

ChannelRole = Literal["label_free", "fluorescence"]
LabelFreeModality = Literal["qpi", "phase_contrast", "dic", "brightfield"]
Condition = Literal["control", "treated"]


class ChannelInfo(StrictModel):
    """One recorded channel."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    """Channel name used in file names and downstream (``label_free``, ``lamin_a_c``)."""
    role: ChannelRole
    """Whether the channel is the label-free input or a fluorescence marker."""
    marker: str | None = None
    """Fluorescence marker (e.g. ``Lamin A/C``); None for label-free."""
    unit: str
    """Unit of the stored values (``rad`` for QPI, ``counts`` for camera counts)."""
    dtype: Literal["float32", "uint16", "uint8"]
    """Stored data type."""


class TileInfo(StrictModel):
    """One tile and where the stage says it was taken."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    position_yx: tuple[int, int]
    """Nominal stage position of the tile's top-left corner in mosaic pixels (y, x)."""
    files: dict[str, str]
    """Relative path of the tile's file for each channel group (``label_free``, ``fluorescence``)."""
    source: str | None = None
    """Where the tile was read from: the position path (``A/1/0``) of a tile ingested from an
    OME-Zarr plate, so that a plate of virtual stains with the same positions matches it."""


class AcquisitionManifest(OutputManifest):
    """Manifest of one acquisition folder."""

    stage: str = "acquisition"
    acquisition_id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    condition: Condition | None = None
    """Experimental condition; None when the acquisition has none (usable for segmentation only)."""
    source: Literal["phantom", "ingested"]
    pixel_size_um: float = Field(gt=0)
    label_free_modality: LabelFreeModality
    channels: list[ChannelInfo]
    tile_size_yx: tuple[int, int]
    overlap: float = Field(ge=0, lt=1)
    tiles: list[TileInfo]
    ground_truth: dict[str, str] = Field(default_factory=dict)
    """Relative paths of ground-truth files (phantom only; for validation, never for training)."""

    @model_validator(mode="after")
    def _one_label_free_channel(self) -> AcquisitionManifest:
        roles = [channel.role for channel in self.channels]
        if roles.count("label_free") != 1:
            raise ValueError(f"channels must hold exactly one label_free channel; found roles {roles}")
        if "fluorescence" not in roles:
            raise ValueError(f"channels must hold at least one fluorescence channel; found roles {roles}")
        return self

    @model_validator(mode="after")
    def _tiles_present(self) -> AcquisitionManifest:
        if not self.tiles:
            raise ValueError("tiles must not be empty")
        return self

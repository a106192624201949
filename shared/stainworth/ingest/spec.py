"""The ingest spec: a small YAML file describing a lab's own images.

Example (one co-registered field, no condition; ``tests/data/isl_rat_neurons_a4/ingest.yaml``)::

    acquisition_id: isl-rat-neurons-a4
    condition: null
    pixel_size_um: 0.33
    label_free:
      modality: phase_contrast
      unit: a.u.
      files: [phase_contrast_z6.png]
    fluorescence:
      - {name: dapi, marker: DAPI, file: dapi_confocal_maxproject.png}

A tiled acquisition lists ``tiles`` instead of files in ``label_free`` and ``fluorescence``::

    tiles:
      - {row: 0, col: 0, position_yx: [0, 0], label_free: r0c0_phase.tif,
         fluorescence: {dapi: r0c0_dapi.tif}}
      - {row: 0, col: 1, position_yx: [0, 922], label_free: r0c1_phase.tif,
         fluorescence: r0c1_fluorescence.ome.tif}      # one (C, Y, X) file, channels in spec order

An OME-Zarr HCS plate (iohub, VisCy, Cytoland) has a ``plate`` section; channels are chosen by
their OMERO label and each position of a listed well becomes one acquisition
(:class:`PlateIngestSpec`, ``docs/datasets.md``)::

    acquisition_id: hek-plate-1            # each position: <id>-<row><column>-<position>
    plate:
      path: plate.zarr
      conditions: {A/1: control, B/2: treated}
    label_free: {modality: qpi, channel: Phase3D}
    fluorescence:
      - {name: h3k27me3, marker: H3K27me3, channel: H3K27me3}

File paths are relative to the YAML file (or absolute).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, model_validator

from stainworth.contracts.acquisition import Condition, LabelFreeModality
from stainworth.contracts.base import StrictModel, validate_model
from stainworth.errors import ConfigError

NAME_PATTERN = r"^[a-z0-9_]+$"


class _LabelFreeBase(StrictModel):
    """What every label-free channel has, whichever files it comes from."""

    modality: LabelFreeModality
    """``qpi`` (quantitative phase, rad), ``phase_contrast``, ``dic`` or ``brightfield``."""
    unit: str | None = None
    """Unit of the values after ``scale`` and ``offset``; default ``rad`` for QPI, ``a.u.`` otherwise."""
    scale: float = 1.0
    """Stored value = raw value * scale + offset (e.g. to turn integer phase into rad)."""
    offset: float = 0.0
    """See ``scale``."""

    @model_validator(mode="after")
    def _qpi_in_radians(self) -> _LabelFreeBase:
        if self.modality != "qpi" and self.unit == "rad":
            raise ValueError(f"unit 'rad' needs modality 'qpi'; {self.modality} has no physical phase (use 'a.u.')")
        return self

    @property
    def resolved_unit(self) -> str:
        """The unit recorded in the acquisition manifest."""
        return self.unit or ("rad" if self.modality == "qpi" else "a.u.")


class LabelFreeSpec(_LabelFreeBase):
    """The label-free channel from TIFF / PNG files."""

    files: list[str] = Field(default_factory=list)
    """Single field: the image file, or several z-planes of it (combined by ``z_combine``)."""
    z_combine: Literal["middle", "mean"] = "middle"
    """How several z-planes become one image: the middle plane (index n // 2) or their mean."""


class _FluorescenceBase(StrictModel):
    """What every fluorescence channel has, whichever files it comes from."""

    name: str = Field(pattern=NAME_PATTERN)
    """Channel name used downstream (lower case, digits, ``_``), e.g. ``dapi``."""
    marker: str
    """Stain or marker, e.g. ``DAPI``, ``Lamin A/C``."""
    unit: str = "counts"
    """Unit of the values."""


class FluorescenceSpec(_FluorescenceBase):
    """One fluorescence channel from TIFF / PNG files."""

    file: str | None = None
    """Single field: the image file of this channel."""


class TileSpec(StrictModel):
    """One tile of a tiled acquisition."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    position_yx: tuple[int, int]
    """Nominal top-left corner in mosaic pixels (y, x), as reported by the stage."""
    label_free: str | list[str]
    """The tile's label-free file, or its z-planes."""
    fluorescence: str | dict[str, str]
    """One file per fluorescence channel name, or one (C, Y, X) file with channels in spec order."""


class IngestSpec(StrictModel):
    """What a lab's images are and how they map onto the acquisition format."""

    acquisition_id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    """Identifier of the acquisition (letters, digits, ``.``, ``_``, ``-``)."""
    condition: Condition | None = None
    """``control``, ``treated``, or null when there is none (segmentation only)."""
    pixel_size_um: float = Field(gt=0, le=100)
    """Pixel size in the sample plane, um."""
    label_free: LabelFreeSpec
    fluorescence: list[FluorescenceSpec] = Field(min_length=1)
    tiles: list[TileSpec] | None = None
    """Tiled acquisitions: one entry per tile; null for a single field (one 1 x 1 tile)."""
    overlap: float | None = Field(default=None, ge=0, lt=1)
    """Nominal tile overlap fraction; null to derive it from the tile positions."""
    notes: str = ""
    """Free text kept with the acquisition (source, license, caveats)."""

    @model_validator(mode="after")
    def _unique_channel_names(self) -> IngestSpec:
        _check_names([channel.name for channel in self.fluorescence])
        return self

    @model_validator(mode="after")
    def _files_in_one_place(self) -> IngestSpec:
        with_file = [channel.name for channel in self.fluorescence if channel.file]
        if self.tiles is None:
            if not self.label_free.files:
                raise ValueError("label_free.files is empty; a single field needs its label-free file (or list tiles)")
            missing = [channel.name for channel in self.fluorescence if not channel.file]
            if missing:
                raise ValueError(f"fluorescence channels {missing} have no 'file'; "
                                 f"a single field needs one per channel")
        elif self.label_free.files or with_file:
            raise ValueError("with 'tiles', give files per tile only (remove label_free.files and fluorescence[].file)")
        return self

    @model_validator(mode="after")
    def _tiles_consistent(self) -> IngestSpec:
        if self.tiles is None:
            return self
        if not self.tiles:
            raise ValueError("tiles is an empty list; use null for a single field")
        seen: set[tuple[int, int]] = set()
        names = {channel.name for channel in self.fluorescence}
        for tile in self.tiles:
            if (tile.row, tile.col) in seen:
                raise ValueError(f"tile row {tile.row} col {tile.col} is listed twice")
            seen.add((tile.row, tile.col))
            if isinstance(tile.fluorescence, dict) and set(tile.fluorescence) != names:
                raise ValueError(f"tile row {tile.row} col {tile.col}: fluorescence names {sorted(tile.fluorescence)} "
                                 f"differ from the channels {sorted(names)}")
        return self


def _check_names(names: list[str]) -> None:
    if len(set(names)) != len(names) or "label_free" in names:
        raise ValueError(f"fluorescence names must be unique and not 'label_free'; found {names}")


ZIndex = Annotated[int, Field(ge=0)]
WELL_PATTERN = r"^[A-Za-z0-9]+/[A-Za-z0-9]+$"


class PlateLabelFreeSpec(_LabelFreeBase):
    """The label-free channel of an OME-Zarr plate."""

    channel: str = Field(min_length=1)
    """OMERO channel label in the plate (``omero.channels[].label``), e.g. ``Phase3D``."""
    z: ZIndex | Literal["middle", "mean"] = "middle"
    """Z-plane: an index, ``middle`` (plane n // 2, the nominal focus) or ``mean`` of all planes."""


class PlateFluorescenceSpec(_FluorescenceBase):
    """One fluorescence channel of an OME-Zarr plate."""

    channel: str = Field(min_length=1)
    """OMERO channel label in the plate, e.g. ``H3K27me3``."""
    z: ZIndex | Literal["middle", "mean", "max"] = "max"
    """Z-plane: an index, ``middle``, ``mean`` or ``max`` (maximum-intensity projection)."""


class PlateSpec(StrictModel):
    """Where the plate is and which wells hold which condition."""

    path: str = Field(min_length=1)
    """The plate (``*.zarr`` folder), relative to the YAML file or absolute."""
    conditions: dict[Annotated[str, Field(pattern=WELL_PATTERN)], Condition | None] = Field(min_length=1)
    """Well path (``row/column``, e.g. ``A/1``) to ``control``, ``treated`` or null (segmentation
    only). Only these wells are ingested; the plate's other wells are skipped and reported."""
    layout: Literal["fields", "tiles"] = "fields"
    """``fields``: every position is one acquisition; ``tiles``: the positions of a well are the
    overlapping tiles of one acquisition, placed by their ``translation`` transform."""
    t: ZIndex = 0
    """Time point."""


class PlateIngestSpec(StrictModel):
    """An OME-Zarr HCS plate (NGFF 0.4 or 0.5) and how its channels map onto acquisitions."""

    acquisition_id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    """Prefix of the acquisition ids: ``<id>-<row><column>-<position>`` (``fields``) or
    ``<id>-<row><column>`` (``tiles``)."""
    plate: PlateSpec
    pixel_size_um: float | None = Field(default=None, gt=0, le=100)
    """Null: from the plate's ``coordinateTransformations`` scale (y, x); a value replaces it
    (for plates written without a scale, which iohub stores as 1.0)."""
    label_free: PlateLabelFreeSpec
    fluorescence: list[PlateFluorescenceSpec] = Field(min_length=1)
    overlap: float | None = Field(default=None, ge=0, lt=1)
    """``tiles`` only: nominal tile overlap fraction; null to derive it from the positions."""
    notes: str = ""
    """Free text kept with each acquisition (source, license, caveats)."""

    @model_validator(mode="after")
    def _unique_channel_names(self) -> PlateIngestSpec:
        _check_names([channel.name for channel in self.fluorescence])
        return self


def load_ingest_spec(path: str | Path) -> IngestSpec | PlateIngestSpec:
    """Read and validate an ingest YAML file (a ``plate`` section makes it a plate spec).

    Raises
    ------
    ConfigError
        One line naming the file and the offending field (unknown keys included).
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"{source}: no such ingest spec file")
    try:
        data = yaml.safe_load(source.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not a text file; expected an ingest spec in YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: found {type(data).__name__}; expected a mapping of ingest fields")
    model: type[IngestSpec] | type[PlateIngestSpec] = PlateIngestSpec if "plate" in data else IngestSpec
    return validate_model(model, data, where=str(source))

"""Ingest (stage 1): a lab's images and a YAML spec into acquisition folders.

TIFF / OME-TIFF / PNG files (:func:`ingest_acquisition`) or an OME-Zarr HCS plate
(:func:`ingest_plate`). See :mod:`stainworth.ingest.spec` for the spec,
``tests/data/isl_rat_neurons_a4/ingest.yaml`` for an example, and ``docs/datasets.md`` for plates
and for what changes with non-QPI label-free input.
"""

from stainworth.ingest.ingest import TilePlan, ingest_acquisition, plan_tiles
from stainworth.ingest.plate import ingest_plate, plan_plate
from stainworth.ingest.readers import ImageHeader, check_plane, probe_image, read_image
from stainworth.ingest.spec import (
    FluorescenceSpec,
    IngestSpec,
    LabelFreeSpec,
    PlateFluorescenceSpec,
    PlateIngestSpec,
    PlateLabelFreeSpec,
    PlateSpec,
    TileSpec,
    load_ingest_spec,
)

__all__ = [
    "FluorescenceSpec",
    "ImageHeader",
    "IngestSpec",
    "LabelFreeSpec",
    "PlateFluorescenceSpec",
    "PlateIngestSpec",
    "PlateLabelFreeSpec",
    "PlateSpec",
    "TilePlan",
    "TileSpec",
    "check_plane",
    "ingest_acquisition",
    "ingest_plate",
    "load_ingest_spec",
    "plan_plate",
    "plan_tiles",
    "probe_image",
    "read_image",
]

"""Ingest (stage 1): a lab's TIFF / OME-TIFF / PNG images plus a YAML spec into an acquisition folder.

See :mod:`stainworth.ingest.spec` for the spec, ``tests/data/isl_rat_neurons_a4/ingest.yaml``
for an example, and ``docs/datasets.md`` for what changes with non-QPI label-free input.
"""

from stainworth.ingest.ingest import TilePlan, ingest_acquisition, plan_tiles
from stainworth.ingest.readers import ImageHeader, check_plane, probe_image, read_image
from stainworth.ingest.spec import FluorescenceSpec, IngestSpec, LabelFreeSpec, TileSpec, load_ingest_spec

__all__ = [
    "FluorescenceSpec",
    "ImageHeader",
    "IngestSpec",
    "LabelFreeSpec",
    "TilePlan",
    "TileSpec",
    "check_plane",
    "ingest_acquisition",
    "load_ingest_spec",
    "plan_tiles",
    "probe_image",
    "read_image",
]

"""Prepared fields: where stitch, register and label keep each field's arrays, and their reuse from the store.

The per-field stages share these pieces, so none of them imports another stage.
"""

from stainworth.fields.cache import FieldCache, lineage, reuse_or_make
from stainworth.fields.each import mean_metrics, reuse_or_make_each
from stainworth.fields.layout import (
    ACQUIRED,
    FIELDS,
    LABELS,
    MOSAIC,
    REGISTERED,
    TILE_POSITIONS,
    TILE_SHAPE,
    TRUTH,
    channel_index,
    field_path,
    open_field_array,
    read_fields,
)

__all__ = [
    "ACQUIRED",
    "FIELDS",
    "LABELS",
    "MOSAIC",
    "REGISTERED",
    "TILE_POSITIONS",
    "TILE_SHAPE",
    "TRUTH",
    "FieldCache",
    "channel_index",
    "field_path",
    "lineage",
    "mean_metrics",
    "open_field_array",
    "read_fields",
    "reuse_or_make",
    "reuse_or_make_each",
]

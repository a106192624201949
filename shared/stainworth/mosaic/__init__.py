"""Stitching tiles into mosaics and registering fluorescence onto label-free, with bounded memory.

See ``docs/stitch_register.md`` for the methods, their sources, assumptions and failure modes.
"""

from stainworth.mosaic.blend import assemble_mosaic, feather_weights
from stainworth.mosaic.chunked import ChannelView, create_array, downsample, iter_blocks, open_array, read_window
from stainworth.mosaic.register import RegistrationResult, register_affine
from stainworth.mosaic.stitch import StitchResult, estimate_tile_positions, mosaic_shape
from stainworth.mosaic.warp import apply_affine, check_overlap, invert_affine, overlap_fraction, warp_to_fixed

__all__ = [
    "ChannelView",
    "RegistrationResult",
    "StitchResult",
    "apply_affine",
    "assemble_mosaic",
    "check_overlap",
    "create_array",
    "downsample",
    "estimate_tile_positions",
    "feather_weights",
    "invert_affine",
    "iter_blocks",
    "mosaic_shape",
    "open_array",
    "overlap_fraction",
    "read_window",
    "register_affine",
    "warp_to_fixed",
]

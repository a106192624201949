"""Tile layout of whole-mosaic staining: where the overlapping tiles lie and how their predictions are weighted.

Grid
----
Tiles of ``tile`` x ``tile`` px start every ``tile - overlap`` px along each axis; the last row and
column are shifted to end exactly at the image border (so they overlap their neighbour by more
than ``overlap``), and an axis shorter than a tile gets one tile, filled beyond the image by
reflection (:func:`numpy.pad` ``mode="reflect"``; constant padding would show the network an
artificial edge, which it would respond to near the border). Nothing outside the image is ever
written.

Blending
--------
Each tile's prediction is weighted by a separable window ``w_y(y) * w_x(x)``. Along one axis the
profile is ``min(d, ramp)``, with ``d`` the distance (1, 2, ...) to the nearest tile edge *that
faces a neighbouring tile* and ``ramp = max(overlap, 1)``: the profile of
:func:`~stainworth.mosaic.blend.feather_weights`, but without a ramp on a side that lies on the
image border, where no neighbour takes over (a ramp there would give border pixels weights near 0
for nothing). Weights thus fall to ``1 / ramp`` (about 0) at every inner tile edge and are at
least ``1 / ramp`` of their plateau everywhere, so every pixel has a positive total weight (checked
along both axes). In a regular overlap of width ``overlap`` the two ramps sum to a constant: a
linear cross-fade, so a prediction that differs from tile to tile changes smoothly, without seams.

Because the grid is the product of a y grid and an x grid, the total weight at a pixel factorises
as ``S_y(y) * S_x(x)`` (sums of the 1-D profiles). Every tile's 1-D profiles are divided by these
sums beforehand, so the blended image is a plain sum of weighted tiles, and a pixel is final once
the last tile covering it is added: no weight image is kept. An identity ``predict`` reproduces
the source up to float32 rounding, and a constant offset comes back as the same offset everywhere.
"""

from __future__ import annotations

import numpy as np

from stainworth.errors import InputDataError


def tile_starts(size: int, tile: int, stride: int) -> list[int]:
    """Tile starts along one axis: every ``stride`` px, the last one ending at the border."""
    if size <= tile:
        return [0]
    return list(range(0, size - tile, stride)) + [size - tile]


def check_grid(tile: int, overlap: int) -> None:
    """Raise :class:`InputDataError` unless ``tile >= 1`` and ``0 <= overlap < tile``."""
    if tile < 1 or not 0 <= overlap < tile:
        raise InputDataError(f"stain tiling: tile {tile} px with overlap {overlap} px; "
                             "expected tile >= 1 and 0 <= overlap < tile")


def tile_grid(shape_yx: tuple[int, int], tile: int, overlap: int) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of the overlapping tiles covering a (H, W) image, row-major.

    Parameters
    ----------
    shape_yx
        (H, W) of the image; any positive size (an axis shorter than ``tile`` gets one tile at 0,
        which extends beyond the image).
    tile
        Tile side, px.
    overlap
        Overlap of neighbouring tiles, px: starts are ``tile - overlap`` apart, except the last
        row and column, which end at the border (and overlap their neighbour by more).

    Returns
    -------
    list of tuple of int
        ``(y, x)`` corners, the grid's rows one after the other.

    Raises
    ------
    InputDataError
        ``tile < 1``, ``overlap`` outside ``[0, tile)`` or a non-positive image size.
    """
    check_grid(tile, overlap)
    height, width = (int(v) for v in shape_yx)
    if height < 1 or width < 1:
        raise InputDataError(f"stain tiling: image of {height}x{width} px; expected positive sizes")
    stride = tile - overlap
    return [(y, x) for y in tile_starts(height, tile, stride) for x in tile_starts(width, tile, stride)]


def tile_profiles(size: int, tile: int, overlap: int) -> tuple[list[int], list[np.ndarray]]:
    """Tile starts along one axis and each tile's normalised 1-D weights, clipped to the image.

    The normalised weights of the tiles covering a pixel sum to 1 (up to rounding).
    """
    starts = tile_starts(size, tile, tile - overlap)
    ramp = np.float32(max(overlap, 1))
    k = np.arange(tile, dtype=np.float32)
    raw = []
    for start in starts:
        profile = np.full(tile, ramp, np.float32)
        if start > 0:  # a neighbour on the low side
            profile = np.minimum(profile, k + 1)
        if start + tile < size:  # a neighbour on the high side
            profile = np.minimum(profile, tile - k)
        raw.append(profile[:min(tile, size - start)])
    total = np.zeros(size, np.float64)
    for start, profile in zip(starts, raw, strict=True):
        total[start:start + len(profile)] += profile
    if not np.all(total > 0):  # cannot happen: every pixel is in a tile and profiles are >= 1
        raise AssertionError(f"stain tiling: zero total weight along an axis of {size} px")
    return starts, [(profile / total[start:start + len(profile)]).astype(np.float32)
                    for start, profile in zip(starts, raw, strict=True)]


def tile_strips(cols: list[int], width_px: int) -> list[list[int]]:
    """Consecutive tile-column indices in groups whose starts span less than ``width_px``."""
    strips: list[list[int]] = []
    for c, start in enumerate(cols):
        if not strips or start - cols[strips[-1][0]] >= width_px:
            strips.append([])
        strips[-1].append(c)
    return strips

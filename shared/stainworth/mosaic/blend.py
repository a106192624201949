"""Block-wise mosaic assembly with feathered (linear) blending of the tile overlaps.

The output is written one block at a time: each block reads only the tiles that intersect it
(through a small least-recently-used cache) and blends them, so memory depends on the block and
tile sizes and the cache length, never on the mosaic area. Tiles are placed at their positions
rounded to whole pixels: the raw pixels are never resampled, and the placement error (at most
half a pixel) is below the stitching accuracy on real data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from stainworth.errors import InputDataError
from stainworth.mosaic.chunked import cast_to, checked_tile, iter_blocks

BlendMode = Literal["linear", "nearest"]


def feather_weights(tile_shape: tuple[int, int], *, ramp_px: int | None = None) -> np.ndarray:
    """Linear blending weights of one tile: distance to the nearest edge along y times along x.

    Parameters
    ----------
    tile_shape
        (T_y, T_x).
    ramp_px
        Weights stop rising this far from an edge (``None``: they rise up to the tile centre,
        so every overlap is blended across its full width).

    Returns
    -------
    numpy.ndarray
        float32 (T_y, T_x), positive everywhere.
    """
    def profile(length: int) -> np.ndarray:
        k = np.arange(length, dtype=np.float32)
        distance = np.minimum(k + 1, length - k)
        return np.minimum(distance, ramp_px) if ramp_px is not None else distance

    return np.outer(profile(tile_shape[0]), profile(tile_shape[1])).astype(np.float32)


class _TileCache:
    """Least-recently-used cache of validated float32 tiles."""

    def __init__(self, load_tile: Callable[[int], np.ndarray], shape: tuple[int, ...], size: int) -> None:
        self.load_tile, self.shape, self.size = load_tile, shape, max(size, 1)
        self.tiles: OrderedDict[int, np.ndarray] = OrderedDict()

    def __call__(self, k: int) -> np.ndarray:
        if k in self.tiles:
            self.tiles.move_to_end(k)
            return self.tiles[k]
        tile = checked_tile(self.load_tile(k), where="assemble", index=k, shape=self.shape,
                            wanted=f"{self.shape} like the output's channels and tile shape")
        self.tiles[k] = tile
        while len(self.tiles) > self.size:
            self.tiles.popitem(last=False)
        return tile


def assemble_mosaic(
    load_tile: Callable[[int], np.ndarray],
    positions: np.ndarray,
    out: Any,
    *,
    tile_shape: tuple[int, int] | None = None,
    block: int = 1024,
    blend: BlendMode = "linear",
    ramp_px: int | None = None,
    cache_tiles: int = 6,
    fill: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Write the tiles at ``positions`` into ``out``, blending overlaps, one output block at a time.

    Parameters
    ----------
    load_tile
        ``load_tile(k)`` returns tile k: (T_y, T_x) when ``out`` is (H, W), (C, T_y, T_x) when
        ``out`` is (C, H, W); any real dtype. May be called more than once per tile.
    positions
        (n, 2) tile top-left corners (y, x) in the frame of ``out``, px; rounded to whole
        pixels (see :attr:`StitchResult.positions <stainworth.mosaic.stitch.StitchResult>`).
    out
        Writable (H, W) or (C, H, W) array: ``zarr.Array`` (see
        :func:`~stainworth.mosaic.chunked.create_array`; H and W from
        :func:`~stainworth.mosaic.stitch.mosaic_shape`) or ``numpy.ndarray``. Integer outputs
        get rounded, clipped values.
    tile_shape
        (T_y, T_x) of the tiles (``None``: taken from tile 0).
    block
        Side of the output blocks, px; a multiple of the zarr chunk side avoids re-encoding chunks.
    blend
        ``"linear"``: overlaps are weighted averages with :func:`feather_weights` (no seams);
        ``"nearest"``: each pixel comes from the tile whose edges are farthest (no mixing of
        pixel values, a hard cut in the middle of each overlap).
    ramp_px
        Width over which the linear weights rise from a tile edge (``None``: to the centre).
    cache_tiles
        Tiles kept in memory between blocks.
    fill
        Value of pixels no tile covers.
    progress
        Optional callback receiving ``"assemble block k/n"`` lines.

    Raises
    ------
    InputDataError
        A tile of the wrong shape, dtype or channel count, or with NaN/Inf pixels (its index is
        named), or positions that leave the output.
    """
    corners = np.rint(np.asarray(positions, dtype=np.float64)).astype(np.int64).reshape(-1, 2)
    height, width = int(out.shape[-2]), int(out.shape[-1])
    if tile_shape is None:
        first = np.shape(load_tile(0))
        tile_shape = (int(first[-2]), int(first[-1]))
    ty, tx = int(tile_shape[0]), int(tile_shape[1])
    if blend not in ("linear", "nearest"):
        raise InputDataError(f"assemble: blend {blend!r}; expected 'linear' or 'nearest'")
    far = (corners + (ty, tx)).max(axis=0) if len(corners) else np.zeros(2, np.int64)
    if len(corners) and (corners.min() < 0 or far[0] > height or far[1] > width):
        raise InputDataError(f"assemble: tiles of {ty}x{tx} at the given positions span up to "
                             f"{far[0]}x{far[1]} from "
                             f"{corners.min(axis=0).tolist()}; expected inside the output {height}x{width}")
    cache = _TileCache(load_tile, tuple(out.shape[:-2]) + (ty, tx), cache_tiles)
    weights = feather_weights((ty, tx), ramp_px=ramp_px)
    blocks = list(iter_blocks((height, width), block))
    for count, (y0, y1, x0, x1) in enumerate(blocks, start=1):
        hits = np.flatnonzero((corners[:, 0] < y1) & (corners[:, 0] + ty > y0)
                              & (corners[:, 1] < x1) & (corners[:, 1] + tx > x0))
        values = _blend_block(cache, corners, hits, weights, (y0, y1, x0, x1), tuple(out.shape[:-2]), blend, fill)
        out[..., y0:y1, x0:x1] = cast_to(values, out.dtype)
        if progress is not None:
            progress(f"assemble block {count}/{len(blocks)}")


def _blend_block(cache: _TileCache, corners: np.ndarray, hits: np.ndarray, weights: np.ndarray,
                 box: tuple[int, int, int, int], channels: tuple[int, ...], blend: str, fill: float) -> np.ndarray:
    """Blended float32 (..., y1 - y0, x1 - x0) of one output block, tiles summed in index order."""
    y0, y1, x0, x1 = box
    total = np.zeros(channels + (y1 - y0, x1 - x0), np.float32)
    weight_sum = np.zeros((y1 - y0, x1 - x0), np.float32)
    for k in hits:
        cy, cx = int(corners[k, 0]), int(corners[k, 1])
        oy0, oy1 = max(y0, cy), min(y1, cy + weights.shape[0])
        ox0, ox1 = max(x0, cx), min(x1, cx + weights.shape[1])
        inner = (slice(oy0 - cy, oy1 - cy), slice(ox0 - cx, ox1 - cx))
        target = (slice(oy0 - y0, oy1 - y0), slice(ox0 - x0, ox1 - x0))
        w, tile = weights[inner], cache(int(k))[(..., *inner)]
        if blend == "linear":
            total[(..., *target)] += tile * w
            weight_sum[target] += w
        else:
            better = w > weight_sum[target]
            total[(..., *target)] = np.where(better, tile, total[(..., *target)])
            weight_sum[target] = np.where(better, w, weight_sum[target])
    if blend == "nearest":
        return np.where(weight_sum > 0, total, np.float32(fill))
    return np.divide(total, weight_sum, out=np.full_like(total, fill), where=weight_sum > 0)

"""Whole-mosaic virtual staining: overlapping tiles, batched predictions, seam-free blending, streaming.

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

Order and memory
----------------
The tile grid is cut into vertical *strips* of whole tile columns, at least two chunks (and two
tiles) wide, processed one after the other; inside a strip, tiles go row by row, ``batch`` at a
time. The pixels of a tile that earlier tiles already covered hold partial sums: those along its
top edge (from the previous tile row) and, in the first tile column of a strip, those along its
left edge (from the previous strip) are read back from ``out``; those along its left edge from
the previous tile in its row are carried over in memory. The tile's contribution is added and its
whole footprint written to ``out``.

zarr arrays decode and encode whole chunks (shards, if sharded), so both arrays are accessed
through a small write-back cache of whole chunks, large enough for the chunks two tile rows of a
strip touch: each chunk is then read once and written once per strip it lies in (twice at most
for chunks on a strip boundary). Arrays without chunks (numpy) are sliced directly.

Memory is therefore bounded independently of the mosaic's height, width and area:
``O(batch * tile**2)`` for the batch, its predictions, one tile of contributions and the carried
strip, plus ``O(H + W)`` float32 for the two 1-D weight sums (128 KB for a 16384 px square), plus,
per zarr array, the cache of ``(ceil(tile / c) + 1) * (ceil((strip + tile) / c) + 2)`` chunks of
side ``c`` (float32; with ``strip = max(2 c, 2 tile)``: 10 chunks, 40 MB, for ``c = 1024`` and
``tile = 512``; 10 MB for ``c = 512``). The memory ``predict`` itself needs (network activations,
also ``O(batch * tile**2)``) comes on top. The price: ``out`` must have a floating dtype (partial
sums live in it), and the overlap strips at the top of each tile and at strip boundaries are read
back once.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from stainworth.errors import InputDataError

Predict = Callable[[np.ndarray], Any]
"""``predict(batch)``: (B, 1, tile, tile) float32 in, (B, 1, tile, tile) predictions out."""

STRIP_CHUNKS = 2
"""A strip of tile columns is at least this many chunks (and this many tiles) wide."""


def _starts(size: int, tile: int, stride: int) -> list[int]:
    """Tile starts along one axis: every ``stride`` px, the last one ending at the border."""
    if size <= tile:
        return [0]
    return list(range(0, size - tile, stride)) + [size - tile]


def _check_grid(tile: int, overlap: int) -> None:
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
    _check_grid(tile, overlap)
    height, width = (int(v) for v in shape_yx)
    if height < 1 or width < 1:
        raise InputDataError(f"stain tiling: image of {height}x{width} px; expected positive sizes")
    stride = tile - overlap
    return [(y, x) for y in _starts(height, tile, stride) for x in _starts(width, tile, stride)]


def _profiles(size: int, tile: int, overlap: int) -> tuple[list[int], list[np.ndarray]]:
    """Tile starts along one axis and each tile's normalised 1-D weights, clipped to the image.

    The normalised weights of the tiles covering a pixel sum to 1 (up to rounding).
    """
    starts = _starts(size, tile, tile - overlap)
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


def _block_shape(array: Any) -> tuple[int, int] | None:
    """The (y, x) side of the unit a chunked array reads and writes (shard or chunk); None if unchunked."""
    for name in ("shards", "chunks"):
        value = getattr(array, name, None)
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
            return int(value[0]), int(value[1])
    return None


class _Direct:
    """Windows of an unchunked array (numpy), read and written directly."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return np.asarray(self.array[y0:y1, x0:x1], dtype=np.float32)

    def write(self, y0: int, y1: int, x0: int, x1: int, values: np.ndarray) -> None:
        self.array[y0:y1, x0:x1] = values

    def flush(self) -> None:
        pass


class _Cached:
    """Windows of a chunked array through a least-recently-used write-back cache of whole float32 blocks."""

    def __init__(self, array: Any, block: tuple[int, int], capacity: int) -> None:
        self.array, self.block, self.capacity = array, block, max(int(capacity), 1)
        self.height, self.width = (int(v) for v in array.shape)
        self.blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.dirty: set[tuple[int, int]] = set()

    def _bounds(self, key: tuple[int, int]) -> tuple[int, int, int, int]:
        by, bx = self.block
        return key[0] * by, min((key[0] + 1) * by, self.height), key[1] * bx, min((key[1] + 1) * bx, self.width)

    def _get(self, key: tuple[int, int]) -> np.ndarray:
        if key in self.blocks:
            self.blocks.move_to_end(key)
            return self.blocks[key]
        y0, y1, x0, x1 = self._bounds(key)
        values = np.asarray(self.array[y0:y1, x0:x1], dtype=np.float32)
        self.blocks[key] = values
        while len(self.blocks) > self.capacity:
            old, old_values = self.blocks.popitem(last=False)
            self._store(old, old_values)
        return values

    def _store(self, key: tuple[int, int], values: np.ndarray) -> None:
        if key in self.dirty:
            y0, y1, x0, x1 = self._bounds(key)
            self.array[y0:y1, x0:x1] = values.astype(self.array.dtype, copy=False)
            self.dirty.discard(key)

    def _parts(self, y0: int, y1: int, x0: int, x1: int) -> list[tuple[tuple[int, int], tuple[slice, slice],
                                                                         tuple[slice, slice]]]:
        """(block key, slices in the block, slices in the window) of the blocks the window touches."""
        by, bx = self.block
        parts = []
        for i in range(y0 // by, (y1 - 1) // by + 1):
            for j in range(x0 // bx, (x1 - 1) // bx + 1):
                b0, _, c0, _ = self._bounds((i, j))
                oy0, oy1, ox0, ox1 = max(y0, b0), min(y1, b0 + by), max(x0, c0), min(x1, c0 + bx)
                parts.append(((i, j), (slice(oy0 - b0, oy1 - b0), slice(ox0 - c0, ox1 - c0)),
                              (slice(oy0 - y0, oy1 - y0), slice(ox0 - x0, ox1 - x0))))
        return parts

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        result = np.empty((y1 - y0, x1 - x0), np.float32)
        for key, inner, outer in self._parts(y0, y1, x0, x1):
            result[outer] = self._get(key)[inner]
        return result

    def write(self, y0: int, y1: int, x0: int, x1: int, values: np.ndarray) -> None:
        for key, inner, outer in self._parts(y0, y1, x0, x1):
            self._get(key)[inner] = values[outer]
            self.dirty.add(key)

    def flush(self) -> None:
        for key, values in self.blocks.items():
            self._store(key, values)


def _strips(cols: list[int], width_px: int) -> list[list[int]]:
    """Consecutive tile-column indices in groups whose starts span less than ``width_px``."""
    strips: list[list[int]] = []
    for c, start in enumerate(cols):
        if not strips or start - cols[strips[-1][0]] >= width_px:
            strips.append([])
        strips[-1].append(c)
    return strips


def stain_mosaic(
    predict: Predict,
    source: Any,
    out: Any,
    *,
    tile: int = 512,
    overlap: int = 64,
    batch: int = 4,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Run ``predict`` over overlapping tiles of ``source`` and write the blended result into ``out``.

    See the module docstring for the grid, the blending weights, the order of the tiles and the
    memory bound: ``O(batch * tile**2)`` plus ``O(H + W)`` plus a cache of about ten chunks per
    zarr array, independent of the mosaic's size.

    Parameters
    ----------
    predict
        Called with a float32 (B, 1, tile, tile) numpy batch of (already normalised) label-free
        tiles, ``1 <= B <= batch`` (the last batch may be smaller); returns (B, 1, tile, tile)
        predictions (anything :func:`numpy.asarray` turns into real numbers).
    source
        (H, W) label-free mosaic (``numpy.ndarray``, ``zarr.Array`` or anything with ``shape``
        and numpy slicing); read by windows. Any size, also smaller than a tile.
    out
        Writable (H, W) array of a floating dtype (float32 expected), numpy or zarr. Its previous
        contents are ignored and every pixel is overwritten; until the call returns, tile
        overlaps in it hold partial sums. Not the same array as ``source``.
    tile
        Tile side, px (the size ``predict`` sees).
    overlap
        Overlap of neighbouring tiles, px, and the width of the blending ramps; ``0 <= overlap < tile``.
    batch
        Tiles per ``predict`` call.
    progress
        Optional callback receiving ``"stain tile k/n"`` lines, one per tile blended.

    Raises
    ------
    InputDataError
        ``source`` not 2-D, ``out`` of another shape or not floating-point, invalid ``tile``,
        ``overlap`` or ``batch``, or ``predict`` returning the wrong shape.
    """
    _check_grid(tile, overlap)
    if batch < 1:
        raise InputDataError(f"stain tiling: batch {batch}; expected at least 1 tile per batch")
    shape = tuple(int(v) for v in source.shape)
    if len(shape) != 2 or min(shape) < 1:
        raise InputDataError(f"stain tiling: source of shape {shape}; expected a non-empty (H, W) image")
    if tuple(int(v) for v in out.shape) != shape:
        raise InputDataError(f"stain tiling: output of shape {tuple(out.shape)}; expected the source's {shape}")
    if not np.issubdtype(np.dtype(out.dtype), np.floating):
        raise InputDataError(f"stain tiling: output dtype {out.dtype}; expected a floating type (partial sums "
                             "of overlapping tiles are kept in it)")
    height, width = shape
    rows, weights_y = _profiles(height, tile, overlap)
    cols, weights_x = _profiles(width, tile, overlap)
    blocks = [b for b in (_block_shape(source), _block_shape(out)) if b is not None]
    strip_px = max([STRIP_CHUNKS * max(tile, b[1]) for b in blocks], default=width)
    reader, writer = (_access(array, tile, strip_px) for array in (source, out))
    order = [(r, c, c == strip[0] and c > 0) for strip in _strips(cols, strip_px)
             for r in range(len(rows)) for c in strip]
    accumulator = _Accumulator(writer, rows, cols, weights_y, weights_x, tile)
    inputs = np.empty((batch, 1, tile, tile), np.float32)
    for first in range(0, len(order), batch):
        chunk = order[first:first + batch]
        for i, (r, c, _) in enumerate(chunk):
            inputs[i, 0] = _read_tile(reader, rows[r], cols[c], tile, shape)
        predictions = np.asarray(predict(inputs[:len(chunk)]))
        if predictions.shape != (len(chunk), 1, tile, tile) or not np.issubdtype(predictions.dtype, np.number):
            raise InputDataError(f"stain tiling: predict returned {predictions.dtype} of shape {predictions.shape} "
                                 f"for a batch of {(len(chunk), 1, tile, tile)}; expected real values of that shape")
        for i, (r, c, strip_start) in enumerate(chunk):
            accumulator.add(r, c, predictions[i, 0], strip_start=strip_start)
            if progress is not None:
                progress(f"stain tile {first + i + 1}/{len(order)}")
    writer.flush()


def _access(array: Any, tile: int, strip_px: int) -> _Direct | _Cached:
    """Direct access to an unchunked array, a cache big enough for two tile rows of a strip otherwise."""
    block = _block_shape(array)
    if block is None:
        return _Direct(array)
    rows = math.ceil(tile / block[0]) + 1
    cols = math.ceil((strip_px + tile) / block[1]) + 2
    return _Cached(array, block, rows * cols)


def _read_tile(reader: _Direct | _Cached, y0: int, x0: int, tile: int, shape: tuple[int, int]) -> np.ndarray:
    """(tile, tile) float32 window at (y0, x0), reflected beyond the image."""
    y1, x1 = min(y0 + tile, shape[0]), min(x0 + tile, shape[1])
    window = reader.read(y0, y1, x0, x1)
    if window.shape != (tile, tile):
        window = np.pad(window, ((0, tile - window.shape[0]), (0, tile - window.shape[1])), mode="reflect")
    return window


class _Accumulator:
    """Adds weighted tile predictions into the output, in strip order (rows of tiles inside a strip).

    The pixels of a tile that earlier tiles covered are: the rows above the bottom edge of the
    previous tile row (read back); in the first column of a strip after the first, the columns
    left of the previous strip's right edge (read back); in other columns, the columns left of
    the previous tile's right edge (carried over in memory from that tile, ``carry``). All other
    pixels of the footprint are written for the first time.
    """

    def __init__(self, writer: _Direct | _Cached, rows: list[int], cols: list[int], weights_y: list[np.ndarray],
                 weights_x: list[np.ndarray], tile: int) -> None:
        self.writer, self.rows, self.cols, self.tile = writer, rows, cols, tile
        self.weights_y, self.weights_x = weights_y, weights_x
        self.carry: tuple[tuple[int, int], np.ndarray] | None = None
        """The tile it is for, and the overlap values (rows below ``top``) that tile will add to."""

    def add(self, r: int, c: int, prediction: np.ndarray, *, strip_start: bool) -> None:
        """Add tile (r, c)'s weighted prediction (tile, tile) and write its footprint."""
        rows, cols, tile = self.rows, self.cols, self.tile
        weight_y, weight_x = self.weights_y[r], self.weights_x[c]
        y0, x0 = rows[r], cols[c]
        y1, x1 = y0 + len(weight_y), x0 + len(weight_x)
        values = prediction[:y1 - y0, :x1 - x0].astype(np.float32) * weight_y[:, None] * weight_x[None, :]
        top = min(rows[r - 1] + tile, y1) - y0 if r > 0 else 0  # footprint rows [0, top): earlier tile rows
        if top > 0:
            values[:top] += self.writer.read(y0, y0 + top, x0, x1)
        if strip_start and top < y1 - y0:  # columns the previous strip covered
            left = min(cols[c - 1] + tile, x1)
            values[top:, :left - x0] += self.writer.read(y0 + top, y1, x0, left)
        elif self.carry is not None and self.carry[0] == (r, c):  # columns the previous tile in this row covered
            values[top:, :self.carry[1].shape[1]] += self.carry[1]
        self.carry = ((r, c + 1), values[top:, cols[c + 1] - x0:].copy()) if c + 1 < len(cols) else None
        self.writer.write(y0, y1, x0, x1, values)

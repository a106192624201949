"""Whole-mosaic virtual staining: tiles predicted in batches, blended and streamed from and to (zarr) arrays.

The tile grid and blending weights are in :mod:`stainworth.stainers.tile_layout`; chunked
arrays are accessed through :mod:`stainworth.stainers.chunk_windows`.

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
for chunks on a strip boundary). As the previous contents of ``out`` do not matter, a chunk of
``out`` is read only if this call has written it before (a strip boundary); the others start as
zeros. Arrays without chunks (numpy) are sliced directly.

Reading ahead, writing behind
-----------------------------
With ``in_flight > 0`` (the default, :data:`IN_FLIGHT`) two background threads keep the I/O off
the network's path (:mod:`stainworth.stainers.background`): one reads and decompresses the tiles
of the next ``in_flight`` batches while ``predict`` runs on the current one, the other compresses
and writes the chunks of ``out`` the cache evicts (at most ``in_flight`` waiting), and a chunk
read back is read only once its write has landed. Blending, the cache of ``out`` and ``progress``
stay in the calling thread, in the same order as without threads, so the output is the same bit
for bit for any ``in_flight``; ``in_flight=0`` does everything in the calling thread. zstd
(numcodecs) and torch's convolutions release the GIL, so the threads overlap with the network.
How much that hides depends on the cores the network leaves idle: a CPU network that keeps
every core busy competes with the (de)compression (a few percent hidden on the 2 cores of
``make bench``, see ``docs/stainers.md``), a GPU network leaves the CPU to it.
An exception in ``predict`` or in either thread stops both threads, joins them and reaches the
caller unchanged. ``source`` is then read from one thread while ``out`` is written from another
and read from the calling thread (different chunks at any time): zarr arrays allow this; for an
array that is not safe to use from several threads, pass ``in_flight=0``.

Memory is therefore bounded independently of the mosaic's height, width and area:
``O((in_flight + 1) * batch * tile**2)`` for the batches read ahead, the current one, its
predictions, one tile of contributions and the carried strip, plus ``O(H + W)`` float32 for the
two 1-D weight sums (128 KB for a 16384 px square), plus, per zarr array, the cache of
``(ceil(tile / c) + 1) * (ceil((strip + tile) / c) + 2)`` chunks of side ``c`` (float32; with
``strip = max(2 c, 2 tile)``: 10 chunks, 40 MB, for ``c = 1024`` and ``tile = 512``; 10 MB for
``c = 512``) and, for ``out``, up to ``in_flight`` evicted chunks waiting to be written. The
memory ``predict`` itself needs (network activations, also ``O(batch * tile**2)``) comes on top.
The price: ``out`` must have a floating dtype (partial sums live in it), and the overlap strips at
the top of each tile and at strip boundaries are read back once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from stainworth.errors import InputDataError
from stainworth.stainers.background import ReadAhead, WriteBehind
from stainworth.stainers.chunk_windows import CachedWindows, DirectWindows, block_shape, window_access
from stainworth.stainers.tile_layout import check_grid, tile_profiles, tile_strips

Predict = Callable[[np.ndarray], Any]
"""``predict(batch)``: (B, 1, tile, tile) float32 in, (B, 1, tile, tile) predictions out."""

Windows = DirectWindows | CachedWindows

STRIP_CHUNKS = 2
"""A strip of tile columns is at least this many chunks (and this many tiles) wide."""

IN_FLIGHT = 2
"""Default batches read ahead of the network, and changed chunks written behind it."""


def stain_mosaic(
    predict: Predict,
    source: Any,
    out: Any,
    *,
    tile: int = 512,
    overlap: int = 64,
    batch: int = 4,
    progress: Callable[[str], None] | None = None,
    in_flight: int = IN_FLIGHT,
) -> None:
    """Run ``predict`` over overlapping tiles of ``source`` and write the blended result into ``out``.

    See the module docstrings (here and :mod:`stainworth.stainers.tile_layout`) for the grid, the
    blending weights, the order of the tiles, the background threads and the memory bound:
    ``O((in_flight + 1) * batch * tile**2)`` plus ``O(H + W)`` plus a cache of about ten chunks per
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
        Optional callback receiving ``"stain tile k/n"`` lines, one per tile blended, in order, from
        the calling thread.
    in_flight
        Batches read ahead of the network, and evicted chunks of ``out`` waiting to be written
        behind it, each by a background thread (see "Reading ahead, writing behind" in the module
        docstring); 0 does everything in the calling thread (for arrays not safe to use from
        several threads). The output is the same, bit for bit, for any value.

    Raises
    ------
    InputDataError
        ``source`` not 2-D, ``out`` of another shape or not floating-point, invalid ``tile``,
        ``overlap``, ``batch`` or ``in_flight``, or ``predict`` returning the wrong shape.
    Exception
        Whatever ``predict``, reading ``source`` or writing ``out`` raises, unchanged, also when it
        is raised in a background thread; the threads are stopped and joined before it propagates.
    """
    shape = _check_arrays(source, out, tile, overlap, batch)
    if in_flight < 0:
        raise InputDataError(f"stain tiling: in_flight {in_flight}; expected 0 (no threads) or more batches")
    rows, weights_y = tile_profiles(shape[0], tile, overlap)
    cols, weights_x = tile_profiles(shape[1], tile, overlap)
    blocks = [b for b in (block_shape(source), block_shape(out)) if b is not None]
    strip_px = max([STRIP_CHUNKS * max(tile, b[1]) for b in blocks], default=shape[1])
    reader = window_access(source, tile, strip_px)
    order = [(r, c, c == strip[0] and c > 0) for strip in tile_strips(cols, strip_px)
             for r in range(len(rows)) for c in strip]
    batches = [order[first:first + batch] for first in range(0, len(order), batch)]

    def read_batch(k: int) -> np.ndarray:
        inputs = np.empty((len(batches[k]), 1, tile, tile), np.float32)
        for i, (r, c, _) in enumerate(batches[k]):
            inputs[i, 0] = _read_tile(reader, rows[r], cols[c], tile, shape)
        return inputs

    with ReadAhead(read_batch, len(batches), depth=in_flight) as inputs, WriteBehind(depth=in_flight) as behind:
        writer = window_access(out, tile, strip_px, behind=behind, blank=True)
        accumulator = _Accumulator(writer, rows, cols, weights_y, weights_x, tile)
        done = 0
        for tiles, batch_inputs in zip(batches, inputs, strict=True):
            predictions = _predict_batch(predict, batch_inputs)
            for i, (r, c, strip_start) in enumerate(tiles):
                accumulator.add(r, c, predictions[i, 0], strip_start=strip_start)
                done += 1
                if progress is not None:
                    progress(f"stain tile {done}/{len(order)}")
        writer.flush()


def _check_arrays(source: Any, out: Any, tile: int, overlap: int, batch: int) -> tuple[int, int]:
    """The (H, W) of ``source`` once the grid, the batch size and both arrays are checked."""
    check_grid(tile, overlap)
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
    return shape[0], shape[1]


def _predict_batch(predict: Predict, inputs: np.ndarray) -> np.ndarray:
    """``predict(inputs)`` as an array, checked to hold real values of the inputs' shape."""
    predictions = np.asarray(predict(inputs))
    if predictions.shape != inputs.shape or not np.issubdtype(predictions.dtype, np.number):
        raise InputDataError(f"stain tiling: predict returned {predictions.dtype} of shape {predictions.shape} "
                             f"for a batch of {inputs.shape}; expected real values of that shape")
    return predictions


def _read_tile(reader: Windows, y0: int, x0: int, tile: int, shape: tuple[int, int]) -> np.ndarray:
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

    def __init__(self, writer: Windows, rows: list[int], cols: list[int], weights_y: list[np.ndarray],
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
        values = prediction[:y1 - y0, :x1 - x0].astype(np.float32)  # a copy, weighted in place
        values *= weight_y[:, None]
        values *= weight_x[None, :]
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

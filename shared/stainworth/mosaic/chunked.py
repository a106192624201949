"""Chunked mosaic arrays on local disk (zarr v3) and block-wise access with bounded memory.

Every function here reads or writes one block (or one row band of blocks) at a time, so memory
depends on the block size, never on the mosaic area. Arrays may be ``numpy.ndarray`` or
``zarr.Array``; anything with ``shape`` and numpy-style slicing works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from stainworth.errors import InputDataError

Block = tuple[int, int, int, int]
"""``(y0, y1, x0, x1)`` of one block, half-open."""


def create_array(
    path: str | Path,
    shape: tuple[int, ...],
    *,
    dtype: str | np.dtype = "float32",
    chunk: int = 1024,
    fill_value: float = 0.0,
) -> zarr.Array:
    """Create (or overwrite) a zarr v3 array of a (H, W) or (C, H, W) mosaic on local disk.

    Parameters
    ----------
    path
        Directory of the array (``.zarr``); replaced if it exists.
    shape
        (H, W) or (C, H, W).
    dtype
        Element type, float32 by default.
    chunk
        Chunk side in the two spatial axes; channels are chunked one by one, so a block of
        ``chunk`` x ``chunk`` pixels of one channel is one chunk.
    fill_value
        Value of never-written pixels.

    Returns
    -------
    zarr.Array
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InputDataError(f"mosaic array {path}: shape {shape}; expected (H, W) or (C, H, W) with positive sizes")
    chunks = (1,) * (len(shape) - 2) + (min(chunk, shape[-2]), min(chunk, shape[-1]))
    return zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype,
                             fill_value=fill_value, overwrite=True, zarr_format=3)


def open_array(path: str | Path, *, mode: str = "r") -> zarr.Array:
    """Open an existing zarr array; a missing or non-array path is an :class:`InputDataError`.

    Parameters
    ----------
    path
        Directory of the array.
    mode
        ``"r"`` (default) or ``"r+"``.

    Returns
    -------
    zarr.Array
    """
    try:
        found = zarr.open(str(path), mode=mode)  # type: ignore[arg-type]
    except (FileNotFoundError, KeyError, ValueError, zarr.errors.NodeTypeValidationError) as error:
        raise InputDataError(f"mosaic array {path}: cannot be opened as zarr ({error})") from None
    if not isinstance(found, zarr.Array):
        raise InputDataError(f"mosaic array {path}: is a zarr group; expected an array")
    return found


def iter_blocks(shape_yx: tuple[int, int], block: int) -> Iterator[Block]:
    """Blocks ``(y0, y1, x0, x1)`` covering a frame of ``shape_yx``, row-major.

    Parameters
    ----------
    shape_yx
        (H, W) of the frame.
    block
        Block side, px (the last row and column of blocks may be smaller).

    Yields
    ------
    tuple of int
        ``(y0, y1, x0, x1)``, half-open.
    """
    if block < 1:
        raise InputDataError(f"block size {block}; expected a positive number of pixels")
    height, width = (int(v) for v in shape_yx)
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            yield y0, min(y0 + block, height), x0, min(x0 + block, width)


class ChannelView:
    """A lazy (H, W) view of one channel of a (C, H, W) array: slicing reads only that channel.

    zarr arrays have no lazy views; pass ``ChannelView(fluorescence, 1)`` wherever an (H, W)
    mosaic is expected (e.g. :func:`~stainworth.mosaic.register.register_affine`).

    Parameters
    ----------
    array
        (C, H, W) array (numpy or zarr).
    channel
        Channel index.
    """

    def __init__(self, array: Any, channel: int) -> None:
        if len(array.shape) != 3 or not 0 <= channel < array.shape[0]:
            raise InputDataError(f"channel view: channel {channel} of an array of shape {tuple(array.shape)}; "
                                 "expected a (C, H, W) array and 0 <= channel < C")
        self.array, self.channel = array, int(channel)
        self.shape = (int(array.shape[1]), int(array.shape[2]))
        self.dtype = np.dtype(array.dtype)
        self.ndim = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if key and key[0] is Ellipsis:
            key = key[1:]
        return np.asarray(self.array[(self.channel, *key)])


def checked_tile(tile: Any, *, where: str, index: int, shape: tuple[int, ...], wanted: str) -> np.ndarray:
    """``tile`` as float32 after checking its shape, that it is real and that every pixel is finite.

    Parameters
    ----------
    tile
        The tile as loaded.
    where, index
        Message prefix (``"stitch"``) and tile index.
    shape
        Expected shape.
    wanted
        What the message says was expected.

    Raises
    ------
    InputDataError
        Naming the tile, what was found and what was expected.
    """
    tile = np.asarray(tile)
    if tile.shape != tuple(shape) or not np.issubdtype(tile.dtype, np.number):
        raise InputDataError(f"{where}: tile {index} has shape {tile.shape} and dtype {tile.dtype}; "
                             f"expected real {wanted}")
    image = tile.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise InputDataError(f"{where}: tile {index} has {bad} NaN/Inf pixels; expected finite values")
    return image


def cast_to(values: np.ndarray, dtype: Any) -> np.ndarray:
    """``values`` as ``dtype``: rounded and clipped to the type's range for integer types (NaN becomes 0).

    Parameters
    ----------
    values
        Real array.
    dtype
        Target element type.

    Returns
    -------
    numpy.ndarray
    """
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(np.nan_to_num(values)), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def read_window(array: Any, y0: int, y1: int, x0: int, x1: int, *, fill: float = 0.0) -> np.ndarray:
    """Read ``array[..., y0:y1, x0:x1]`` as float32, padding with ``fill`` outside the array.

    Parameters
    ----------
    array
        (H, W) or (C, H, W) array.
    y0, y1, x0, x1
        Window in array coordinates; may extend beyond the array.
    fill
        Value of pixels outside the array.

    Returns
    -------
    numpy.ndarray
        float32 (..., y1 - y0, x1 - x0).
    """
    height, width = (int(v) for v in array.shape[-2:])
    result = np.full(tuple(array.shape[:-2]) + (y1 - y0, x1 - x0), fill, np.float32)
    cy0, cy1, cx0, cx1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
    if cy0 < cy1 and cx0 < cx1:
        result[..., cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = array[..., cy0:cy1, cx0:cx1]
    return result


def downsample(array: Any, factor: int, *, block: int = 2048,
               progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Area-average downsampling of a (H, W) array by an integer factor, read block by block.

    Parameters
    ----------
    array
        (H, W) array (numpy or zarr).
    factor
        Integer reduction; the result is (ceil(H / factor), ceil(W / factor)). Edge blocks that
        do not fill a whole ``factor`` x ``factor`` cell average what there is.
    block
        Approximate side of the blocks read at once, px (rounded to a multiple of ``factor``).
    progress
        Optional callback receiving ``"downsample k/n"`` lines.

    Returns
    -------
    numpy.ndarray
        float32 (ceil(H / factor), ceil(W / factor)). Non-finite input stays non-finite.
    """
    height, width = (int(v) for v in array.shape[-2:])
    factor = max(int(factor), 1)
    side = max(block // factor, 1) * factor
    out = np.empty((-(-height // factor), -(-width // factor)), np.float32)
    blocks = list(iter_blocks((height, width), side))
    for count, (y0, y1, x0, x1) in enumerate(blocks, start=1):
        values = np.asarray(array[y0:y1, x0:x1], dtype=np.float32)
        out[y0 // factor:-(-y1 // factor), x0 // factor:-(-x1 // factor)] = _reduce(values, factor)
        if progress is not None:
            progress(f"downsample {count}/{len(blocks)}")
    return out


def _reduce(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor cells; partial cells at the bottom and right edges average what there is."""
    if factor == 1:
        return values
    height, width = values.shape
    cells_y, cells_x = -(-height // factor), -(-width // factor)
    padded = np.zeros((cells_y * factor, cells_x * factor), np.float32)
    counts = np.zeros_like(padded)
    padded[:height, :width] = values
    counts[:height, :width] = 1.0
    total = padded.reshape(cells_y, factor, cells_x, factor).sum(axis=(1, 3))
    return total / counts.reshape(cells_y, factor, cells_x, factor).sum(axis=(1, 3))

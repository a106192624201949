"""Bounding boxes of the objects of a label mosaic, read band by band.

:func:`label_boxes` gives the same boxes as :func:`scipy.ndimage.find_objects` over the whole
image, one box over every pixel of an id (ids need not be connected nor sequential), while only
one band of rows is in memory at a time. :func:`band_rows_for` aligns the band height to the
zarr chunking (or sharding) of the array, so every band decodes whole chunks once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from stainworth.errors import ConfigError

Box = tuple[int, int, int, int]
"""``(y0, y1, x0, x1)`` in mosaic px, ends exclusive."""


def _row_block(array: Any) -> int:
    """Rows of the unit a chunked array decodes (shard, else chunk); 1 for an unchunked array."""
    for name in ("shards", "chunks"):
        value = getattr(array, name, None)
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
            return int(value[0])
    return 1


def band_rows_for(array: Any, band_rows: int) -> int:
    """``band_rows`` rounded up to a whole number of the array's chunk (or shard) rows.

    Parameters
    ----------
    array
        2-D ``numpy.ndarray`` (kept as is) or chunked array such as ``zarr.Array``.
    band_rows
        Requested rows per band, at least 1.

    Returns
    -------
    int
        Rows per band: a multiple of the chunk rows of ``array``.

    Raises
    ------
    ConfigError
        If ``band_rows`` is below 1.
    """
    if band_rows < 1:
        raise ConfigError(f"band_rows: found {band_rows}; expected a positive number of rows")
    block = _row_block(array)
    return -(-int(band_rows) // block) * block


def read_rows(array: Any, y0: int, y1: int, x0: int | None = None, x1: int | None = None) -> np.ndarray:
    """Rows ``y0:y1`` (columns ``x0:x1``, all by default) of a 2-D array as numpy (a view for numpy)."""
    return np.asarray(array[y0:y1, x0:x1])


def label_boxes(labels: Any, *, band_rows: int) -> dict[int, Box]:
    """Bounding box of every id of a label mosaic, reading ``band_rows`` rows at a time.

    Parameters
    ----------
    labels
        (Y, X) integer labels, ``numpy.ndarray`` or ``zarr.Array``; 0 and negative values are
        background, as for :func:`scipy.ndimage.find_objects`.
    band_rows
        Rows read at once.

    Returns
    -------
    dict of int to tuple of int
        ``(y0, y1, x0, x1)`` per id present, ends exclusive: the box over all pixels of the id,
        equal to ``find_objects`` over the whole image. Ids in ascending order.
    """
    if band_rows < 1:
        raise ConfigError(f"band_rows: found {band_rows}; expected a positive number of rows")
    height = int(labels.shape[0])
    boxes: dict[int, list[int]] = {}
    for b0 in range(0, height, band_rows):
        band = read_rows(labels, b0, min(height, b0 + band_rows))
        for k, box in enumerate(ndimage.find_objects(band)):
            if box is None:
                continue
            ys, xs = box
            found = boxes.get(k + 1)
            if found is None:
                boxes[k + 1] = [b0 + ys.start, b0 + ys.stop, xs.start, xs.stop]
            else:  # bands go down: the first band holds the top row, the latest the bottom one
                found[1] = b0 + ys.stop
                found[2] = min(found[2], xs.start)
                found[3] = max(found[3], xs.stop)
    return {label_id: (y0, y1, x0, x1) for label_id, (y0, y1, x0, x1) in sorted(boxes.items())}

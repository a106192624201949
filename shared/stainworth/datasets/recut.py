"""Items of an existing dataset cut again from other mosaics in the same frame (numpy in, numpy out).

An external stainer's virtual mosaic is in the frame of the label-free mosaic the dataset was cut
from, so its items are cut at the stored ``positions`` of the same ``source`` mosaic, with the
same masks and canvases as the real fluorescence:

- **segmentation**: the crop of the item's size whose top-left corner is the item's position;
- **classification**: the nucleus box whose top-left corner is the item's position, placed on a
  black canvas where the item's mask is, and zero elsewhere. The mask's bounding box on the canvas
  is the nucleus box (the mask is the nucleus's label inside its tight box,
  :func:`~stainworth.datasets.classification.render_nucleus`), so no further table is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stainworth.datasets.mosaic import WindowReader
from stainworth.errors import InputDataError


def cut_items(readers: Sequence[WindowReader], source: np.ndarray, positions: np.ndarray, mask: np.ndarray, *,
              kind: str) -> np.ndarray:
    """The (n, S, S) float32 items at ``positions`` of mosaics ``readers[source]``, like a dataset's items.

    Parameters
    ----------
    readers
        One window reader per mosaic, in the order of the dataset's ``sources``.
    source
        (n,) index of each item's mosaic.
    positions
        (n, 2) top-left (y, x) of each item's crop (segmentation) or nucleus box (classification).
    mask
        (n, S, S) the items' nucleus masks (classification: where the nucleus is on its canvas).
    kind
        ``segmentation`` or ``classification``.

    Raises
    ------
    InputDataError
        A source index without a mosaic, a window outside its mosaic, or a classification item
        without a nucleus.
    """
    count, side = int(mask.shape[0]), int(mask.shape[-1])
    out = np.zeros((count, side, side), np.float32)
    for k in range(count):
        index = int(source[k])
        if not 0 <= index < len(readers):
            raise InputDataError(f"item {k}: source mosaic {index}; expected 0..{len(readers) - 1}")
        y, x = (int(v) for v in positions[k])
        if kind == "segmentation":
            out[k] = _window(readers[index], y, y + side, x, x + side, k)
            continue
        rows, cols = np.nonzero(mask[k])
        if rows.size == 0:
            raise InputDataError(f"item {k}: an empty nucleus mask; expected the nucleus of a classification item")
        oy, ox, height, width = rows.min(), cols.min(), rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        box = _window(readers[index], y, y + height, x, x + width, k)
        inside = mask[k, oy:oy + height, ox:ox + width] > 0
        out[k, oy:oy + height, ox:ox + width] = np.where(inside, box, 0.0)
    return out


def _window(reader: WindowReader, y0: int, y1: int, x0: int, x1: int, item: int) -> np.ndarray:
    found = reader.read(y0, y1, x0, x1)
    if y0 < 0 or x0 < 0 or found.shape != (y1 - y0, x1 - x0):
        raise InputDataError(f"item {item}: window y {y0}:{y1}, x {x0}:{x1} leaves its mosaic "
                             f"(the virtual mosaic is smaller than the one the dataset was cut from)")
    return found

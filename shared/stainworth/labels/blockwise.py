"""Labelling a field larger than memory: overlapping blocks, each nucleus owned by one block.

A paper-sized field (19,000 x 19,000 px) does not fit a labeler whole: its float32 marker image
alone is 1.4 GB, and a watershed holds several such images at once. :func:`label_blockwise`
cuts the field into a grid of core blocks, labels each core with a margin (the *halo*) around it,
and keeps from each block only the nuclei whose centroid lies in its core. A nucleus smaller than
the halo is therefore seen whole by the block that keeps it, and is kept exactly once: centroids
partition the field, so no nucleus is lost or doubled at a block edge and no merging of label
pieces across edges is needed (the rule of StarDist's ``predict_instances_big``, Schmidt et al.
2018, and of Cellpose's distributed segmentation, which merges only what a halo cannot hold).
Kept nuclei are numbered 1..n in block order, then in the labeler's order inside a block; where a
kept nucleus overlaps pixels already given to a nucleus of an earlier block (two labelers'
disagreement about a shared boundary), the earlier one keeps them.

The labelers' global choices are made once for the whole field, not per block, so that a block
is labelled as it would be inside the whole image: the classical labeler's Otsu threshold is
computed from the histogram of the whole smoothed field (:func:`classical_threshold`, exact: the
same value as Otsu on the whole image), and Cellpose's 1st/99th percentile normalisation from a
regular sample of the field (:func:`sampled_percentiles`). A field that fits one block is labelled
whole, identically to labelling it without blocks.

Memory is one window (block plus halo on each side) of the marker, the labeler's working arrays
for it, and the same window of the output; neither depends on the field's size.

References
----------
.. [1] Schmidt, U., Weigert, M., Broaddus, C. & Myers, G. Cell detection with star-convex
   polygons. MICCAI 2018, 265-273 (2018).
.. [2] Stringer, C. & Pachitariu, M. Cellpose3: one-click image restoration for improved
   cellular segmentation. Nat. Methods 22, 592-599 (2025) (``distributed_segmentation``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from stainworth.errors import ConfigError, InputDataError

OTSU_BINS = 256
"""Histogram bins of Otsu's threshold (scikit-image's default, so one block gives its value)."""
HALO_DIAMETERS = 3.0
"""Default halo in nucleus diameters: a nucleus with its filled rim holes fits inside it."""
SAMPLE_PIXELS = 4_000_000
"""Pixels sampled (on a regular grid) for percentiles of a field larger than one block."""


@dataclass(frozen=True)
class Window:
    """One block of the grid: its core (kept nuclei's centroids) and the window read around it."""

    core: tuple[int, int, int, int]
    """``y0, y1, x0, x1`` of the core, field px (end exclusive)."""
    window: tuple[int, int, int, int]
    """``y0, y1, x0, x1`` of the core grown by the halo and clipped to the field."""


@dataclass(frozen=True)
class BlockwiseResult:
    """What :func:`label_blockwise` wrote."""

    nuclei: int
    """Nuclei kept (the output holds ids 1..nuclei)."""
    blocks: int
    """Blocks labelled."""
    cut_by_halo: int
    """Kept nuclei that touched their window's inner edge: larger than the halo, kept as seen."""


def block_windows(shape_yx: tuple[int, int], block_px: int, halo_px: int) -> Iterator[Window]:
    """The grid of core blocks over a field, row by row, with their halo windows.

    Parameters
    ----------
    shape_yx
        Field size, px.
    block_px
        Side of a core block, px (the last row and column of blocks may be smaller).
    halo_px
        Margin read around each core, px.
    """
    if block_px < 1 or halo_px < 0:
        raise ConfigError(f"block_px, halo_px: found {block_px}, {halo_px}; expected block_px >= 1 and halo_px >= 0")
    height, width = shape_yx
    for y0 in range(0, height, block_px):
        for x0 in range(0, width, block_px):
            y1, x1 = min(y0 + block_px, height), min(x0 + block_px, width)
            yield Window((y0, y1, x0, x1),
                         (max(y0 - halo_px, 0), min(y1 + halo_px, height), max(x0 - halo_px, 0),
                          min(x1 + halo_px, width)))


def halo_for(nucleus_diameter_px: float) -> int:
    """The default halo, px: :data:`HALO_DIAMETERS` nucleus diameters."""
    return int(math.ceil(HALO_DIAMETERS * nucleus_diameter_px))


def _read(image: Any, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    return np.asarray(image[y0:y1, x0:x1])


def _read_finite(image: Any, box: tuple[int, int, int, int]) -> np.ndarray:
    """``_read`` as float32, refusing NaN/Inf in one line that names the window read."""
    data = _read(image, box).astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        y0, y1, x0, x1 = box
        raise InputDataError(f"marker image: found {bad} NaN/Inf pixels in rows {y0}:{y1}, columns {x0}:{x1}, "
                             "expected finite intensities")
    return data


def classical_threshold(image: Any, *, sigma_px: float, block_px: int) -> float:
    """Otsu's threshold of the Gaussian-smoothed field, computed block by block.

    Exactly the value :func:`skimage.filters.threshold_otsu` gives on the whole smoothed image
    (256 bins over its range): each core is smoothed inside a window with a margin of the
    kernel's radius, so its values are those of the whole image, and the histograms of the cores
    add up to the whole image's. Two passes (range, then histogram); memory is one window.

    Parameters
    ----------
    image
        (H, W) marker image, numpy or zarr (anything sliced ``image[y0:y1, x0:x1]``).
    sigma_px
        Gaussian sigma of the classical labeler, px (0: no smoothing).
    block_px
        Side of a core block, px.

    Raises
    ------
    InputDataError
        The image holds NaN/Inf (the window where it was found is named).
    """
    radius = int(math.ceil(4 * sigma_px)) + 1 if sigma_px > 0 else 0
    windows = list(block_windows(tuple(image.shape[-2:]), block_px, radius))

    def smoothed_cores() -> Iterator[np.ndarray]:
        for window in windows:
            data = _read_finite(image, window.window)
            smooth = cv2.GaussianBlur(data, (0, 0), sigma_px) if sigma_px > 0 else data
            (y0, y1, x0, x1), (wy, _, wx, _) = window.core, window.window
            yield smooth[y0 - wy:y1 - wy, x0 - wx:x1 - wx]

    if len(windows) == 1:
        return float(threshold_otsu(next(smoothed_cores())))
    low, high = np.inf, -np.inf
    for core in smoothed_cores():
        low, high = min(low, float(core.min())), max(high, float(core.max()))
    if low == high:
        return low
    counts = np.zeros(OTSU_BINS, dtype=np.int64)
    for core in smoothed_cores():
        counts += np.histogram(core, bins=OTSU_BINS, range=(low, high))[0]
    edges = np.histogram_bin_edges(np.array([low, high]), bins=OTSU_BINS, range=(low, high))
    return float(threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2)))


def sampled_percentiles(image: Any, percentiles: tuple[float, float], *, block_px: int,
                        max_pixels: int = SAMPLE_PIXELS) -> tuple[float, float]:
    """Percentiles of a field from a regular grid of at most ``max_pixels`` pixels, block by block.

    Every ``step``-th row and column (``step`` the smallest that keeps the sample within
    ``max_pixels``; 1, i.e. every pixel, for a field of up to 4 megapixels); deterministic.
    """
    height, width = image.shape[-2:]
    step = max(1, int(math.ceil(math.sqrt(height * width / max_pixels))))
    parts = []
    for window in block_windows((height, width), block_px, 0):
        y0, y1, x0, x1 = window.core
        first_y, first_x = -y0 % step, -x0 % step
        parts.append(_read_finite(image, window.core)[first_y::step, first_x::step].ravel())
    sample = np.concatenate(parts)
    low, high = np.percentile(sample, percentiles)
    return float(low), float(high)


def _owned(labels: np.ndarray, window: Window, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the nuclei whose centroid lies in the core, and whether each touches an inner window edge."""
    (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) = window.core, window.window
    height, width = shape
    kept, at_edge = [], []
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        ys, xs = box
        rows, cols = np.nonzero(labels[box] == index + 1)
        cy, cx = wy0 + ys.start + rows.mean(), wx0 + xs.start + cols.mean()
        if y0 <= cy < y1 and x0 <= cx < x1:
            kept.append(index + 1)
            at_edge.append((ys.start == 0 and wy0 > 0) or (ys.stop == labels.shape[0] and wy1 < height)
                           or (xs.start == 0 and wx0 > 0) or (xs.stop == labels.shape[1] and wx1 < width))
    return np.asarray(kept, dtype=np.int64), np.asarray(at_edge, dtype=bool)


def label_blockwise(image: Any, label_window: Callable[[np.ndarray], np.ndarray], out: Any, *, block_px: int,
                    halo_px: int, progress: Callable[[str], None] | None = None) -> BlockwiseResult:
    """Label a field block by block into ``out``; each nucleus kept by the block holding its centroid.

    Parameters
    ----------
    image
        (H, W) marker image, numpy or zarr (anything sliced ``image[y0:y1, x0:x1]``).
    label_window
        Labels one window: (h, w) float image -> (h, w) integer instance labels, 0 background.
        A window whose values are all equal is not labelled (it holds no nucleus).
    out
        (H, W) integer array to write, numpy or zarr, all zero on entry.
    block_px
        Side of a core block, px; a field no larger than this is labelled whole.
    halo_px
        Margin labelled around each core, px; at least the largest nucleus' extent (see
        :func:`halo_for`).
    progress
        Optional callback receiving a short line per block.

    Returns
    -------
    BlockwiseResult
        Nuclei kept (ids 1..n in ``out``), blocks, nuclei larger than the halo.
    """
    shape = (int(image.shape[-2]), int(image.shape[-1]))
    if tuple(out.shape) != shape:
        raise ConfigError(f"out: shape {tuple(out.shape)} differs from the image's {shape}; expected equal shapes")
    windows = list(block_windows(shape, block_px, halo_px))
    next_id, cut = 1, 0
    for number, window in enumerate(windows, start=1):
        data = _read(image, window.window)
        if data.size and data.min() != data.max():
            labels = np.asarray(label_window(data))
            if labels.dtype.kind not in "ui" or labels.shape != data.shape:
                raise ConfigError(f"label_window: returned {labels.dtype} labels of shape {labels.shape} for a "
                                  f"window of shape {data.shape}; expected integer labels of the window's shape")
            kept, at_edge = _owned(labels, window, shape)
            if kept.size:
                cut += int(at_edge.sum())
                next_id = _write(out, labels, kept, window, next_id)
        if progress is not None:
            progress(f"block {number}/{len(windows)}, {next_id - 1} nuclei")
    return BlockwiseResult(nuclei=next_id - 1, blocks=len(windows), cut_by_halo=cut)


def _write(out: Any, labels: np.ndarray, kept: np.ndarray, window: Window, next_id: int) -> int:
    """Write the kept nuclei of one window with ids from ``next_id``; earlier nuclei keep their pixels."""
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.uint32)
    lookup[kept] = np.arange(next_id, next_id + kept.size, dtype=np.uint32)
    mapped = lookup[labels]
    rows, cols = np.nonzero(mapped)
    y0, y1 = int(rows.min()), int(rows.max()) + 1
    x0, x1 = int(cols.min()), int(cols.max()) + 1
    wy, wx = window.window[0], window.window[2]
    target = np.asarray(out[wy + y0:wy + y1, wx + x0:wx + x1])
    piece = mapped[y0:y1, x0:x1]
    free = (target == 0) & (piece > 0)
    target = target.copy()
    target[free] = piece[free]
    out[wy + y0:wy + y1, wx + x0:wx + x1] = target
    return next_id + int(kept.size)

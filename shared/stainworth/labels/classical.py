"""The embedded default nuclei labeler: smoothing, threshold, distance-transform watershed.

1. Gaussian smoothing (sigma ``smoothing_sigma_um``) against camera noise.
2. Threshold: Otsu's between-class-variance threshold of the smoothed image, or a given value.
3. Holes: a rim marker (nuclear envelope, e.g. Lamin A/C) draws each nucleus as a ring, so holes
   up to a few nucleus areas are filled to make solid nuclei; a filled marker (e.g. DAPI) only
   gets small holes (dim nucleoli) filled. Specks smaller than ``min_area_um2`` are dropped.
4. Markers: local maxima of the Euclidean distance transform of the mask that are at least
   ``min_distance_um`` apart and stand out by ``peak_depth_um`` above the saddle to any higher
   maximum (h-maxima), so that the neck between two touching nuclei splits them but the ragged
   ridge of one elongated nucleus does not. Every connected region gets at least one marker.
5. Watershed of the inverted distance transform from those markers, inside the mask.

References
----------
.. [1] Otsu, N. A threshold selection method from gray-level histograms. IEEE Trans. Syst. Man
   Cybern. 9, 62-66 (1979).
.. [2] Beucher, S. & Meyer, F. The morphological approach to segmentation: the watershed
   transformation. In Mathematical Morphology in Image Processing (ed. Dougherty, E. R.)
   433-481 (Marcel Dekker, 1993).
.. [3] Soille, P. Morphological Image Analysis, 2nd edn, ch. 6 (h-maxima) (Springer, 2003).
"""

from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from stainworth.errors import ConfigError, InputDataError

RIM_HOLE_AREAS = 4.0
"""Rim marker: holes up to this many nominal nucleus areas are filled (a ring is one nucleus)."""
FILL_HOLE_AREAS = 0.25
"""Filled marker: holes up to this fraction of a nominal nucleus area are filled (nucleoli)."""


def check_marker_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Validate a single-channel marker image and return it as float32.

    Parameters
    ----------
    image
        (H, W) real-valued image (any integer or float dtype).
    name
        What the image is (file or field name), put at the start of error messages.

    Returns
    -------
    numpy.ndarray
        (H, W) float32 copy-or-view of ``image``.

    Raises
    ------
    InputDataError
        If the image is not 2-D, not real-valued, empty, holds NaN/Inf, or is constant.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 2:
        shape = getattr(image, "shape", type(image).__name__)
        raise InputDataError(f"{name}: found shape {shape}, expected a 2-D (H, W) single-channel image")
    real = np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    if image.dtype == np.bool_ or not real:
        raise InputDataError(f"{name}: found dtype {image.dtype}, expected integer or float intensities")
    if image.size == 0:
        raise InputDataError(f"{name}: found an empty {image.shape} image, expected pixels")
    data = np.asarray(image, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise InputDataError(f"{name}: found {bad} NaN/Inf pixels, expected finite intensities")
    low, high = float(data.min()), float(data.max())
    if low == high:
        raise InputDataError(f"{name}: all pixels equal {low:g}, expected an image with contrast to segment")
    return data


def label_nuclei_classical(
    image: np.ndarray,
    *,
    pixel_size_um: float,
    nucleus_diameter_um: float = 10.0,
    marker: Literal["rim", "fill"] = "rim",
    smoothing_sigma_um: float | None = None,
    threshold: Literal["otsu"] | float = "otsu",
    min_distance_um: float | None = None,
    peak_depth_um: float | None = None,
    min_area_um2: float | None = None,
) -> np.ndarray:
    """Label nuclei in a nuclear-marker image by threshold and distance-transform watershed.

    Parameters
    ----------
    image
        (H, W) marker intensities (e.g. uint16 camera counts of Lamin A/C or DAPI).
    pixel_size_um
        Pixel size, um.
    nucleus_diameter_um
        Typical nucleus diameter, um; every ``None`` option below is derived from it.
    marker
        ``"rim"`` for a nuclear-envelope marker (rings are filled), ``"fill"`` for a marker that
        fills the nucleus.
    smoothing_sigma_um
        Gaussian sigma, um (default diameter / 20).
    threshold
        ``"otsu"`` or an absolute threshold in the units of ``image`` (applied after smoothing).
    min_distance_um
        Smallest distance between two nucleus centres, um (default diameter / 3).
    peak_depth_um
        h of the h-maxima of the distance transform, um (default diameter / 10): how much
        narrower than both nuclei a neck must be to split them.
    min_area_um2
        Foreground specks smaller than this are dropped before the watershed, um^2 (default the
        area of a disc of a quarter of the diameter, 1/16 of the nominal nucleus area).

    Returns
    -------
    numpy.ndarray
        (H, W) uint32 instance labels 1..n (0 = background); all zero when nothing was found
        (check with :func:`stainworth.labels.require_nuclei`).

    Raises
    ------
    InputDataError
        If the image is not 2-D, holds NaN/Inf or is constant.
    ConfigError
        If a size option is not positive or ``marker``/``threshold`` is unknown.

    References
    ----------
    .. [1] Otsu, N. IEEE Trans. Syst. Man Cybern. 9, 62-66 (1979).
    .. [2] Beucher, S. & Meyer, F. In Mathematical Morphology in Image Processing, 433-481 (1993).
    """
    data = check_marker_image(image)
    if marker not in ("rim", "fill"):
        raise ConfigError(f"marker: found {marker!r}, expected 'rim' or 'fill'")
    _positive(pixel_size_um=pixel_size_um, nucleus_diameter_um=nucleus_diameter_um)
    d_px = nucleus_diameter_um / pixel_size_um
    sigma_px = _px(smoothing_sigma_um, d_px / 20.0, pixel_size_um, "smoothing_sigma_um")
    min_distance_px = _px(min_distance_um, d_px / 3.0, pixel_size_um, "min_distance_um")
    depth_px = _px(peak_depth_um, d_px / 10.0, pixel_size_um, "peak_depth_um")
    nucleus_area_px = math.pi * d_px**2 / 4.0
    min_area_px = _px(min_area_um2, nucleus_area_px / 16.0, pixel_size_um**2, "min_area_um2")
    smooth = cv2.GaussianBlur(data, (0, 0), sigma_px) if sigma_px > 0 else data
    mask = smooth > _threshold_value(smooth, threshold)
    hole_areas = RIM_HOLE_AREAS if marker == "rim" else FILL_HOLE_AREAS
    mask = _fill_holes(mask, max_area_px=hole_areas * nucleus_area_px)
    mask = _remove_specks(mask, min_area_px=min_area_px)
    return split_touching(mask, min_distance_px=min_distance_px, depth_px=depth_px)


def split_touching(mask: np.ndarray, *, min_distance_px: float, depth_px: float) -> np.ndarray:
    """Split a binary nuclei mask into instances by a marker-controlled distance watershed.

    Parameters
    ----------
    mask
        (H, W) bool foreground.
    min_distance_px
        Smallest distance between two markers, px.
    depth_px
        h of the h-maxima of the distance transform, px.

    Returns
    -------
    numpy.ndarray
        (H, W) uint32 instance labels 1..n.
    """
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.uint32)
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    distance = cv2.GaussianBlur(distance, (0, 0), 1.0) * mask  # calm the ridge noise of ragged outlines
    markers = _markers(distance, mask, min_distance_px=min_distance_px, depth_px=depth_px)
    labels = watershed(-distance, markers, mask=mask)
    return labels.astype(np.uint32, copy=False)


def _markers(distance: np.ndarray, mask: np.ndarray, *, min_distance_px: float, depth_px: float) -> np.ndarray:
    """Marker image: well-separated, deep distance maxima; one per region that has none."""
    regions, n_regions = ndi.label(mask)
    peaks = peak_local_max(distance, min_distance=max(1, round(min_distance_px)), exclude_border=False,
                           threshold_abs=1e-6)
    peaks = peaks[_deep(peaks, distance, regions, depth_px)]
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[peaks[:, 0], peaks[:, 1]] = np.arange(1, len(peaks) + 1)
    has_marker = np.zeros(n_regions + 1, dtype=bool)
    has_marker[regions[peaks[:, 0], peaks[:, 1]]] = True
    orphans = np.flatnonzero(~has_marker[1:]) + 1
    if orphans.size:  # a region with no deep peak: seed it at its deepest pixel
        coords = np.asarray(ndi.maximum_position(distance, regions, orphans), dtype=np.int64).reshape(-1, 2)
        markers[coords[:, 0], coords[:, 1]] = len(peaks) + np.arange(1, len(coords) + 1)
    return markers


def _deep(peaks: np.ndarray, distance: np.ndarray, regions: np.ndarray, depth_px: float) -> np.ndarray:
    """Which peaks are h-maxima (h = ``depth_px``) of their region; single-peak regions keep theirs.

    The h-maxima transform runs only on the bounding box of regions with several peaks, which is
    what keeps it cheap on mosaics (most nuclei are alone in their region).
    """
    keep = np.ones(len(peaks), dtype=bool)
    if depth_px <= 0 or len(peaks) < 2:
        return keep
    region_of = regions[peaks[:, 0], peaks[:, 1]]
    crowded = np.flatnonzero(np.bincount(region_of) > 1)
    windows = ndi.find_objects(regions)
    order = np.argsort(region_of, kind="stable")
    starts = np.searchsorted(region_of[order], crowded)
    ends = np.searchsorted(region_of[order], crowded, side="right")
    for region, start, end in zip(crowded, starts, ends, strict=True):
        window = windows[region - 1]
        if window is None:
            continue
        local = np.where(regions[window] == region, distance[window], 0.0)
        deep = h_maxima(local, depth_px).astype(bool)
        index = order[start:end]
        keep[index] = deep[peaks[index, 0] - window[0].start, peaks[index, 1] - window[1].start]
    return keep


def _threshold_value(smooth: np.ndarray, threshold: Literal["otsu"] | float) -> float:
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise ConfigError(f"threshold: found {threshold!r}, expected 'otsu' or a number")
        return float(threshold_otsu(smooth))
    if not math.isfinite(threshold):
        raise ConfigError(f"threshold: found {threshold}, expected 'otsu' or a finite number")
    return float(threshold)


def _fill_holes(mask: np.ndarray, *, max_area_px: float) -> np.ndarray:
    """Fill background pieces not connected to the image border and no larger than max_area_px."""
    pieces, n = ndi.label(~mask)
    if n == 0:
        return mask
    fill = np.bincount(pieces.ravel()) <= max_area_px
    fill[0] = False
    border = np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])
    fill[border] = False
    return mask | fill[pieces]


def _remove_specks(mask: np.ndarray, *, min_area_px: float) -> np.ndarray:
    pieces, n = ndi.label(mask)
    if n == 0:
        return mask
    keep = np.bincount(pieces.ravel()) >= min_area_px
    keep[0] = False
    return keep[pieces]


def _px(value: float | None, default_px: float, unit_per_px: float, name: str) -> float:
    """An option in physical units (um or um^2) converted to pixels, or its default in pixels."""
    if value is None:
        return default_px
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name}: found {value}, expected a finite value >= 0")
    return value / unit_per_px


def _positive(**values: float) -> None:
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
            raise ConfigError(f"{name}: found {value!r}, expected a finite number > 0")

"""Cross-modal matching images and matches: nucleus feature images, SIFT matches, local shifts.

Quantitative phase and a nuclear fluorescence marker differ in contrast but share one thing:
nuclei are the brightest compact objects in both (in QPI the cytoplasm is bright too, but about
three times fainter than the nucleus). :func:`feature_image` removes the slowly varying background
(the cloudy low frequencies of TIE phase, fluorescence haze and camera offset), maps a robust
floor (a percentile) to 0 and the 99.7th percentile to 1 and smooths lightly, so both modalities
become images of bright nuclei on black.
"""

from __future__ import annotations

import cv2
import numpy as np

from stainworth.mosaic.correlate import correlation_shift, ncc, overlap_slices

SIFT_TILE_PX = 512
"""Core side of the tiles SIFT runs on (bounds its memory to about 80 MB)."""
SIFT_MARGIN_PX = 48
"""Context around each SIFT tile, px."""
MAX_KEYPOINTS = 12000
"""Strongest keypoints per image kept for matching."""


def smooth_background(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of width ``sigma`` px, computed on a reduced copy when ``sigma`` is wide."""
    factor = max(int(sigma // 4), 1)
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    height, width = image.shape
    small = cv2.resize(image, (max(width // factor, 1), max(height // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def feature_image(image: np.ndarray, *, nucleus_diameter_px: float, floor_percentile: float = 50.0,
                  smooth_px: float = 1.0) -> np.ndarray:
    """An image of bright nuclei on black, comparable across label-free and fluorescence.

    Parameters
    ----------
    image
        (H, W) any real dtype; NaN pixels (outside a warped mosaic) are treated as background.
    nucleus_diameter_px
        Typical nucleus diameter, px; the background is a Gaussian of twice this width.
    floor_percentile
        Percentile of the background-free image mapped to 0 (75 suppresses the QPI cytoplasm
        more; 50 keeps more signal).
    smooth_px
        Width of the final Gaussian smoothing, px.

    Returns
    -------
    numpy.ndarray
        float32 (H, W) in [0, 1].
    """
    image = np.asarray(image, dtype=np.float32)
    valid = np.isfinite(image)
    if not valid.any():
        return np.zeros(image.shape, np.float32)
    image = np.where(valid, image, np.float32(np.median(image[valid])))
    flat = image - smooth_background(image, 2.0 * nucleus_diameter_px)
    step = max(int(np.sqrt(flat.size / 250_000)), 1)
    sample = flat[::step, ::step][valid[::step, ::step]]
    low, high = np.percentile(sample, [floor_percentile, 99.7]) if sample.size else (0.0, 1.0)
    scaled = np.clip((flat - low) / max(float(high - low), 1e-12), 0.0, 1.0).astype(np.float32)
    return cv2.GaussianBlur(scaled, (0, 0), smooth_px, borderType=cv2.BORDER_REFLECT) if smooth_px > 0 else scaled


def sift_keypoints(image: np.ndarray, *, max_keypoints: int = MAX_KEYPOINTS, tile_px: int = SIFT_TILE_PX,
                   margin_px: int = SIFT_MARGIN_PX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SIFT keypoints and descriptors of a feature image, detected tile by tile.

    OpenCV's SIFT doubles the image and keeps a full Gaussian and difference-of-Gaussian pyramid,
    about 215 bytes per input pixel (900 MB for 2048 x 2048), so the image is processed in tiles
    of ``tile_px`` with ``margin_px`` of context; a keypoint belongs to the tile whose core holds it.
    Each tile keeps its strongest keypoints, an equal share of ``max_keypoints``, so keypoints
    stay spread over the image and their number (and the matching cost) is bounded.

    Parameters
    ----------
    image
        float32 (H, W) feature image in [0, 1].
    max_keypoints
        Largest number of keypoints over the whole image.
    tile_px, margin_px
        Core size and context margin of the detection tiles, px.

    Returns
    -------
    points : numpy.ndarray
        (n, 2) float64 keypoint positions (x, y).
    descriptors : numpy.ndarray
        (n, 128) float32.
    responses : numpy.ndarray
        (n,) float64 detector responses (contrast).
    """
    image8 = (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    height, width = image8.shape
    tiles = -(-height // tile_px) * -(-width // tile_px)
    sift = cv2.SIFT_create(nfeatures=max(-(-max_keypoints // tiles), 1))  # type: ignore[attr-defined]
    points, descriptors, responses = [np.empty((0, 2))], [np.empty((0, 128), np.float32)], [np.empty(0)]
    for y0 in range(0, height, tile_px):
        for x0 in range(0, width, tile_px):
            cy0, cx0 = max(y0 - margin_px, 0), max(x0 - margin_px, 0)
            crop = image8[cy0:min(y0 + tile_px + margin_px, height), cx0:min(x0 + tile_px + margin_px, width)]
            keys, desc = sift.detectAndCompute(np.ascontiguousarray(crop), None)
            if desc is None or not keys:
                continue
            xy = np.array([k.pt for k in keys], dtype=np.float64) + (cx0, cy0)
            core = (xy[:, 0] >= x0) & (xy[:, 0] < x0 + tile_px) & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + tile_px)
            points.append(xy[core])
            descriptors.append(desc[core])
            responses.append(np.array([k.response for k in keys], dtype=np.float64)[core])
    return np.concatenate(points), np.concatenate(descriptors), np.concatenate(responses)


def sift_matches(fixed: np.ndarray, moving: np.ndarray, *, ratio: float = 0.8,
                 max_keypoints: int = MAX_KEYPOINTS) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoints of two feature images matched with Lowe's ratio test (exact nearest neighbours).

    Parameters
    ----------
    fixed, moving
        float32 feature images in [0, 1] (see :func:`feature_image`).
    ratio
        Largest ratio of the best to the second-best descriptor distance.
    max_keypoints
        Keypoints kept per image (see :func:`sift_keypoints`); brute-force matching costs the
        product of the two counts.

    Returns
    -------
    source : numpy.ndarray
        (n, 2) float64 matched points (x, y) in ``moving``.
    target : numpy.ndarray
        (n, 2) float64 the corresponding points (x, y) in ``fixed``.
    """
    points_f, desc_f, _ = sift_keypoints(fixed, max_keypoints=max_keypoints)
    points_m, desc_m, _ = sift_keypoints(moving, max_keypoints=max_keypoints)
    if len(points_f) < 2 or len(points_m) < 2:
        return np.empty((0, 2)), np.empty((0, 2))
    nearest, first, second = _two_nearest(desc_m, desc_f)
    good = first < ratio * second
    return points_m[good].reshape(-1, 2), points_f[nearest[good]].reshape(-1, 2)


def _two_nearest(queries: np.ndarray, references: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, ...]:
    """Index of the nearest reference and the two smallest Euclidean distances per query (exact, chunked)."""
    references = references.astype(np.float32)
    reference_norms = np.einsum("ij,ij->i", references, references)
    nearest = np.empty(len(queries), np.int64)
    first, second = np.empty(len(queries), np.float32), np.empty(len(queries), np.float32)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk].astype(np.float32)
        distances = block @ references.T
        distances *= -2.0
        distances += reference_norms
        rows = np.arange(len(block))
        best = distances.argmin(axis=1)
        best_value = distances[rows, best]
        distances[rows, best] = np.inf
        norms = np.einsum("ij,ij->i", block, block)
        nearest[start:start + len(block)] = best
        first[start:start + len(block)] = np.sqrt(np.maximum(best_value + norms, 0.0))
        second[start:start + len(block)] = np.sqrt(np.maximum(distances.min(axis=1) + norms, 0.0))
    return nearest, first, second


def local_correspondences(fixed: np.ndarray, moving: np.ndarray, *, subwindow_px: int, nucleus_diameter_px: float,
                          min_quality: float = 0.3) -> np.ndarray:
    """Residual shifts of half-overlapping sub-windows of two roughly aligned windows.

    Parameters
    ----------
    fixed
        (h, w) window of the fixed mosaic.
    moving
        (h, w) moving mosaic resampled into the same window (NaN outside the moving mosaic).
    subwindow_px
        Sub-window side, px.
    nucleus_diameter_px
        Typical nucleus diameter, px (for :func:`feature_image`).
    min_quality
        Smallest NCC of the aligned sub-windows to keep a correspondence.

    Returns
    -------
    numpy.ndarray
        (n, 4) float64 rows ``(cx, cy, sx, sy)``: the sub-window centre (x, y) in window
        coordinates, and the shift s such that the fixed point c shows what the resampled
        moving window shows at c - s.
    """
    missing = ~np.isfinite(moving)
    fixed_f = feature_image(fixed, nucleus_diameter_px=nucleus_diameter_px)
    moving_f = feature_image(moving, nucleus_diameter_px=nucleus_diameter_px)
    size, step = subwindow_px, max(subwindow_px // 2, 1)
    rows = []
    for y0 in range(0, fixed.shape[0] - size + 1, step):
        for x0 in range(0, fixed.shape[1] - size + 1, step):
            inner = (slice(y0, y0 + size), slice(x0, x0 + size))
            a, b = fixed_f[inner], moving_f[inner]
            if missing[inner].any() or a.std() < 1e-3 or b.std() < 1e-3:
                continue
            shift = correlation_shift(a, b, max_shift=size / 8)
            in_a, in_b = overlap_slices((int(round(shift[0])), int(round(shift[1]))), (size, size))
            if ncc(a[in_a], b[in_b]) >= min_quality:
                rows.append((x0 + (size - 1) / 2, y0 + (size - 1) / 2, float(shift[1]), float(shift[0])))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)

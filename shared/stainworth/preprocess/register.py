"""Registration of a fluorescence mosaic onto the label-free mosaic: SIFT + RANSAC affine.

Coarse to fine, with memory independent of the mosaic area: features are matched on copies
downsampled so their longest side is at most ``max_side`` px; the coarse affine then guides a
full-resolution pass on a fixed number of windows, whose matches (mapped back to full-resolution
coordinates) give the final RANSAC affine. Label-free (phase) and fluorescence images differ in
contrast, so both are first turned into comparable "nucleus" images: background removed by a
wide Gaussian, robust contrast stretch, slight smoothing (nuclei are the brightest compact
objects in QPI and in a nuclear fluorescence marker alike).

References
----------
.. [1] Lowe D. G. (2004) Distinctive image features from scale-invariant keypoints. Int J Comput
       Vis 60:91-110. doi:10.1023/B:VISI.0000029664.99615.94
.. [2] Fischler M. A., Bolles R. C. (1981) Random sample consensus. Commun ACM 24(6):381-395.
       doi:10.1145/358669.358692
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from stainworth.errors import InputDataError
from stainworth.preprocess.blocks import iter_blocks


@dataclass(frozen=True)
class RegistrationResult:
    """The affine mapping moving (fluorescence) pixels onto fixed (label-free) pixels."""

    matrix: np.ndarray
    """(2, 3) float64, OpenCV convention: ``[x_f, y_f] = M @ [x_m, y_m, 1]``."""
    n_matches: int
    """SIFT matches passing the ratio test (coarse pass)."""
    n_inliers: int
    """RANSAC inliers among them."""
    residual_px_rms: float
    """RMS residual of the full-resolution window correspondences, px."""
    windows_used: int
    """Full-resolution windows agreeing with the final affine."""
    correlation: float = float("nan")
    """Correlation of the feature images after alignment (translation method)."""


def _downsampled(image: Any, factor: int) -> np.ndarray:
    return np.asarray(image[::factor, ::factor], dtype=np.float32)


def smooth_background(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of width ``sigma`` computed on a reduced copy (cheap for wide kernels)."""
    factor = max(int(sigma // 4), 1)
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    height, width = image.shape
    small = cv2.resize(image, (max(width // factor, 1), max(height // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def feature_image(image: np.ndarray, *, background_sigma: float, smooth_sigma: float = 1.0) -> np.ndarray:
    """uint8 image of bright compact objects: background removed, robustly stretched, smoothed."""
    image = np.nan_to_num(np.asarray(image, dtype=np.float32))
    flattened = image - smooth_background(image, background_sigma)
    low, high = np.percentile(flattened[::3, ::3], [50.0, 99.7])
    scaled = np.clip((flattened - low) / max(float(high - low), 1e-6), 0, 1)
    return (cv2.GaussianBlur(scaled, (0, 0), smooth_sigma, borderType=cv2.BORDER_REFLECT) * 255).astype(np.uint8)


def _matches(fixed: np.ndarray, moving: np.ndarray, *, ratio: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Matched keypoint coordinates (x, y): (n, 2) in moving, (n, 2) in fixed."""
    sift = cv2.SIFT_create()  # type: ignore[attr-defined]
    kp_f, des_f = sift.detectAndCompute(fixed, None)
    kp_m, des_m = sift.detectAndCompute(moving, None)
    if des_f is None or des_m is None or len(kp_f) < 2 or len(kp_m) < 2:
        return np.empty((0, 2)), np.empty((0, 2))
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_m, des_f, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < ratio * n.distance]
    moving_xy = np.array([kp_m[m.queryIdx].pt for m in good], dtype=np.float64).reshape(-1, 2)
    fixed_xy = np.array([kp_f[m.trainIdx].pt for m in good], dtype=np.float64).reshape(-1, 2)
    return moving_xy, fixed_xy


def _ransac(moving_xy: np.ndarray, fixed_xy: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    if len(moving_xy) < 3:
        return None, np.zeros(len(moving_xy), bool)
    matrix, inliers = cv2.estimateAffine2D(moving_xy, fixed_xy, method=cv2.RANSAC,
                                           ransacReprojThreshold=threshold, maxIters=5000, confidence=0.999,
                                           refineIters=20)
    mask = inliers.ravel().astype(bool) if inliers is not None else np.zeros(len(moving_xy), bool)
    return matrix, mask


def apply_affine(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map (n, 2) points (x, y) through a (2, 3) affine."""
    return xy @ matrix[:, :2].T + matrix[:, 2]


def _window_corners(shape: tuple[int, int], window: int, count: int) -> list[tuple[int, int]]:
    per_side = max(int(np.sqrt(count)), 1)
    ys = np.linspace(0, max(shape[0] - window, 0), per_side).astype(int)
    xs = np.linspace(0, max(shape[1] - window, 0), per_side).astype(int)
    return sorted({(int(y), int(x)) for y in ys for x in xs})


def _refine_by_correlation(fixed: Any, moving: Any, guess: np.ndarray, *, window: int, count: int,
                           background_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution correspondences, one per window, by sub-pixel phase correlation.

    Each window of the fixed frame is compared with the moving mosaic resampled into it through
    ``guess``; the residual shift moves the window centre's correspondence. Intensity correlation
    of whole nuclei is more precise across modalities than keypoint positions, which differ
    systematically between a phase image and a fluorescence marker.

    Returns (n, 2) moving points, (n, 2) fixed points (x, y) and (n,) correlation qualities.
    """
    moving_points, fixed_points, qualities = [], [], []
    height, width = fixed.shape
    size = min(window, max(min(height, width) // 2, 96))
    for y0, x0 in _window_corners((height, width), size, count):
        fixed_win = feature_image(np.asarray(fixed[y0:y0 + size, x0:x0 + size]), background_sigma=background_sigma)
        resampled = np.zeros((size, size), np.float32)
        warp_to_fixed(moving, _shifted(guess, x0, y0), resampled, block=size)
        if np.count_nonzero(resampled) < 0.9 * resampled.size:
            continue
        moving_win = feature_image(resampled, background_sigma=background_sigma)
        shift, error, _ = phase_cross_correlation(fixed_win.astype(np.float32), moving_win.astype(np.float32),
                                                  upsample_factor=10)
        centre = np.array([x0 + size / 2, y0 + size / 2])
        source = apply_affine(cv2.invertAffineTransform(guess), (centre - shift[::-1])[None])[0]
        moving_points.append(source)
        fixed_points.append(centre)
        qualities.append(1.0 - float(error))
    return np.array(moving_points).reshape(-1, 2), np.array(fixed_points).reshape(-1, 2), np.array(qualities)


def _shifted(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """The affine into a frame whose origin is at (x0, y0) of the original frame."""
    local = np.asarray(matrix, dtype=np.float64).copy()
    local[:, 2] -= (x0, y0)
    return local


def _check_plausible(matrix: np.ndarray, max_deformation: float, where: str) -> None:
    deformation = float(np.linalg.norm(matrix[:, :2] - np.eye(2)))
    if deformation > max_deformation:
        scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
        angle = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
        raise InputDataError(f"registration: implausible affine (scale {scale:.3f}, rotation {angle:.2f} deg, "
                             f"deformation {deformation:.3f} > {max_deformation}); the matches are wrong ({where})")


def register_affine(
    fixed: Any,
    moving: Any,
    *,
    max_side: int = 2048,
    min_inliers: int = 12,
    window: int = 512,
    windows: int = 16,
    nucleus_diameter_px: float = 30.0,
    max_deformation: float = 0.05,
    progress: Callable[[str], None] | None = None,
) -> RegistrationResult:
    """Affine mapping ``moving`` (fluorescence) pixels onto ``fixed`` (label-free) pixels.

    Parameters
    ----------
    fixed, moving
        (H, W) and (H', W') mosaics (``numpy`` or ``zarr`` arrays, read by windows).
    max_side
        Longest side of the downsampled copies of the coarse pass.
    min_inliers
        Fewest RANSAC inliers accepted at either pass.
    window, windows
        Size and number of the full-resolution refinement windows (sub-pixel phase correlation
        of the fixed window with the moving mosaic resampled through the current affine).
    nucleus_diameter_px
        Typical nucleus size; sets the background-removal scale of the feature images.
    max_deformation
        Largest accepted deviation of the affine's linear part from the identity (Frobenius
        norm): separately acquired channels differ by a small shift, rotation and scale, so a
        larger deformation means the matches were wrong.
    progress
        Optional callback receiving short lines.

    Raises
    ------
    InputDataError
        Too few matches or inliers (the numbers found and needed are given).
    """
    factor = max(int(np.ceil(max(*fixed.shape, *moving.shape) / max_side)), 1)
    sigma = 2.0 * nucleus_diameter_px
    fixed_small = feature_image(_downsampled(fixed, factor), background_sigma=sigma / factor)
    moving_small = feature_image(_downsampled(moving, factor), background_sigma=sigma / factor)
    moving_xy, fixed_xy = _matches(fixed_small, moving_small)
    coarse, inliers = _ransac(moving_xy, fixed_xy, threshold=3.0)
    where = f"fixed {fixed.shape[0]}x{fixed.shape[1]}, moving {moving.shape[0]}x{moving.shape[1]}"
    if coarse is None or inliers.sum() < min_inliers:
        raise InputDataError(f"registration: {int(inliers.sum())} inlier matches of {len(moving_xy)} found on the "
                             f"downsampled mosaics (1/{factor}), at least {min_inliers} needed ({where})")
    coarse_matches, coarse_inliers = len(moving_xy), int(inliers.sum())
    coarse_full = coarse.copy()
    coarse_full[:, 2] *= factor
    if progress is not None:
        progress(f"coarse: {int(inliers.sum())}/{len(moving_xy)} inliers at 1/{factor}")
    matrix = coarse_full
    for _ in range(2):
        moving_xy, fixed_xy, _quality = _refine_by_correlation(fixed, moving, matrix, window=window, count=windows,
                                                               background_sigma=sigma)
        refined, inliers = _ransac(moving_xy, fixed_xy, threshold=1.0)
        if refined is None or inliers.sum() < min(6, min_inliers):
            raise InputDataError(f"registration: {int(inliers.sum())} of {len(moving_xy)} full-resolution windows "
                                 f"agree, at least {min(6, min_inliers)} needed ({where})")
        matrix = refined
    _check_plausible(matrix, max_deformation, where)
    residual = np.linalg.norm(apply_affine(matrix, moving_xy[inliers]) - fixed_xy[inliers], axis=1)
    return RegistrationResult(matrix=matrix, n_matches=coarse_matches, n_inliers=coarse_inliers,
                              residual_px_rms=float(np.sqrt(np.mean(residual**2))), windows_used=int(inliers.sum()))


def register_translation(fixed: Any, moving: Any, *, max_side: int = 2048,
                         nucleus_diameter_px: float = 30.0) -> RegistrationResult:
    """Translation only, by sub-pixel phase correlation of the two feature images.

    For channels that are already co-registered up to a shift, and for modality pairs on which
    keypoints do not match (e.g. phase contrast against DAPI, where nuclei are halos in one image
    and filled blobs in the other, but their centres coincide).

    Raises
    ------
    InputDataError
        When the images differ in size.
    """
    if tuple(fixed.shape) != tuple(moving.shape):
        raise InputDataError(f"registration (translation): fixed {fixed.shape[0]}x{fixed.shape[1]} and moving "
                             f"{moving.shape[0]}x{moving.shape[1]} differ in size; use method 'affine'")
    factor = max(int(np.ceil(max(*fixed.shape) / max_side)), 1)
    sigma = 2.0 * nucleus_diameter_px / factor
    fixed_small = _downsampled(fixed, factor)
    moving_small = feature_image(_downsampled(moving, factor), background_sigma=sigma).astype(np.float32)
    best: tuple[float, np.ndarray] = (-2.0, np.zeros(2))
    for polarity in (1.0, -1.0):  # nuclei are bright in QPI, dark in phase contrast
        fixed_features = feature_image(polarity * fixed_small, background_sigma=sigma).astype(np.float32)
        shift, _, _ = phase_cross_correlation(fixed_features, moving_small, upsample_factor=10)
        moved = ndimage.shift(moving_small, shift, order=1)
        score = float(np.corrcoef(fixed_features.ravel(), moved.ravel())[0, 1])
        if score > best[0]:
            best = (score, np.asarray(shift, dtype=np.float64))
    dy, dx = (float(v) * factor for v in best[1])
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return RegistrationResult(matrix=matrix, n_matches=0, n_inliers=0, residual_px_rms=float("nan"),
                              windows_used=1, correlation=best[0])


def warp_to_fixed(moving: Any, matrix: np.ndarray, out: Any, *, block: int = 1024,
                  progress: Callable[[str], None] | None = None) -> None:
    """Resample ``moving`` ((H', W') or (C, H', W')) into the fixed frame ``out``, block by block.

    Only the source region each output block needs is read; pixels that map outside the moving
    mosaic are 0.
    """
    inverse = cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))
    height, width = moving.shape[-2:]
    blocks = list(iter_blocks((int(out.shape[-2]), int(out.shape[-1])), block))
    for count, (y0, y1, x0, x1) in enumerate(blocks, start=1):
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
        source = apply_affine(inverse, corners)
        sx0, sy0 = (np.floor(source.min(axis=0)).astype(int) - 2).clip(0)
        sx1, sy1 = np.ceil(source.max(axis=0)).astype(int) + 2
        sx1, sy1 = min(sx1, width), min(sy1, height)
        result = np.zeros(out.shape[:-2] + (y1 - y0, x1 - x0), np.float32)
        if sx1 > sx0 and sy1 > sy0:
            region = np.asarray(moving[..., sy0:sy1, sx0:sx1], dtype=np.float32)
            local = matrix.astype(np.float64).copy()
            local[:, 2] = matrix[:, :2] @ np.array([sx0, sy0]) + matrix[:, 2] - np.array([x0, y0])
            planes = region.reshape(-1, *region.shape[-2:])
            warped = [cv2.warpAffine(plane, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0) for plane in planes]
            result = np.stack(warped).reshape(result.shape).astype(np.float32)
        out[..., y0:y1, x0:x1] = result
        if progress is not None:
            progress(f"block {count}/{len(blocks)}")

"""Affine helpers and block-wise resampling of a moving mosaic into the fixed frame.

All affines are 2 x 3 in OpenCV convention: ``[x_f, y_f] = M @ [x_m, y_m, 1]`` maps a moving
pixel (x, y) to a fixed pixel (x, y); pixel centres are at integer coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from stainworth.errors import InputDataError
from stainworth.mosaic.chunked import cast_to, iter_blocks

_INTERPOLATION = {0: cv2.INTER_NEAREST, 1: cv2.INTER_LINEAR, 3: cv2.INTER_CUBIC}


def apply_affine(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map points through an affine.

    Parameters
    ----------
    matrix
        (2, 3) affine.
    xy
        (n, 2) points (x, y).

    Returns
    -------
    numpy.ndarray
        (n, 2) float64 mapped points (x, y).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.asarray(xy, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """(2, 3) float64 inverse of a (2, 3) affine."""
    return np.asarray(cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64)), dtype=np.float64)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) affine applying ``inner`` first, then ``outer``."""
    outer, inner = np.asarray(outer, dtype=np.float64), np.asarray(inner, dtype=np.float64)
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])


def translation(dx: float, dy: float) -> np.ndarray:
    """(2, 3) affine adding (dx, dy) to every point."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def overlap_fraction(fixed_shape: tuple[int, int], moving_shape: tuple[int, int], matrix: np.ndarray) -> float:
    """Fraction of the fixed frame covered by the moving frame mapped through ``matrix``.

    Parameters
    ----------
    fixed_shape, moving_shape
        (H, W) and (H', W').
    matrix
        (2, 3) affine from moving to fixed pixels.

    Returns
    -------
    float
        0..1.
    """
    (fh, fw), (mh, mw) = fixed_shape[-2:], moving_shape[-2:]
    quad = apply_affine(matrix, np.array([[-0.5, -0.5], [mw - 0.5, -0.5], [mw - 0.5, mh - 0.5], [-0.5, mh - 0.5]]))
    frame = np.array([[-0.5, -0.5], [fw - 0.5, -0.5], [fw - 0.5, fh - 0.5], [-0.5, fh - 0.5]])
    (ax, ay), (bx, by) = quad[1] - quad[0], quad[2] - quad[1]
    if ax * by - ay * bx < 0:  # keep both polygons in the same orientation
        quad = quad[::-1]
    area, _ = cv2.intersectConvexConvex(quad.astype(np.float32), frame.astype(np.float32))
    return float(max(area, 0.0) / (fh * fw))


def check_overlap(fixed_shape: tuple[int, ...], moving_shape: tuple[int, ...], matrix: np.ndarray, *,
                  min_fraction: float = 0.5) -> float:
    """Refuse a registration after which the moving mosaic covers too little of the fixed one.

    Parameters
    ----------
    fixed_shape, moving_shape
        Shapes whose last two axes are (H, W) and (H', W').
    matrix
        (2, 3) affine from moving to fixed pixels.
    min_fraction
        Smallest accepted covered fraction of the fixed frame.

    Returns
    -------
    float
        The covered fraction.

    Raises
    ------
    InputDataError
        When the covered fraction is below ``min_fraction`` (one line with both sizes).
    """
    fixed_hw = (int(fixed_shape[-2]), int(fixed_shape[-1]))
    moving_hw = (int(moving_shape[-2]), int(moving_shape[-1]))
    fraction = overlap_fraction(fixed_hw, moving_hw, matrix)
    if fraction < min_fraction:
        raise InputDataError(f"registration: the fluorescence covers {100 * fraction:.0f}% of the label-free frame "
                             f"after registration, at least {100 * min_fraction:.0f}% needed (label-free "
                             f"{fixed_hw[0]}x{fixed_hw[1]}, fluorescence {moving_hw[0]}x{moving_hw[1]})")
    return fraction


def warp_to_fixed(
    moving: Any,
    matrix: np.ndarray,
    out: Any,
    *,
    block: int = 1024,
    order: int = 1,
    fill: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Resample ``moving`` into the fixed frame ``out`` block by block.

    For each output block, the block's corners are mapped through the inverse affine, only the
    source region they span (plus an interpolation margin) is read, and it is resampled with
    ``cv2.warpAffine`` through the affine translated to the block and region origins. Memory
    depends on the block size, never on the mosaic area.

    Parameters
    ----------
    moving
        (H', W') or (C, H', W') array (numpy or zarr).
    matrix
        (2, 3) affine mapping moving pixels (x, y) to fixed pixels (x, y).
    out
        Writable (H, W) or (C, H, W) array of the fixed frame (same channel count as ``moving``);
        integer outputs get rounded, clipped values.
    block
        Output block side, px.
    order
        Interpolation: 0 nearest, 1 bilinear, 3 bicubic.
    fill
        Value of output pixels whose source lies outside the moving mosaic (e.g. 0 or NaN).
    progress
        Optional callback receiving ``"warp block k/n"`` lines.

    Notes
    -----
    OpenCV interpolates at 1/32 px fixed-point coordinates, rounded relative to the block origin,
    so different block sizes agree to about 1e-3 of the signal range, not bit for bit.

    Raises
    ------
    InputDataError
        Unknown ``order`` or channel counts that differ.
    """
    if order not in _INTERPOLATION:
        raise InputDataError(f"warp: interpolation order {order}; expected one of {sorted(_INTERPOLATION)}")
    if tuple(moving.shape[:-2]) != tuple(out.shape[:-2]):
        raise InputDataError(f"warp: moving shape {tuple(moving.shape)} and output shape {tuple(out.shape)} differ "
                             "in their channel axes; expected the same")
    matrix = np.asarray(matrix, dtype=np.float64)
    inverse = invert_affine(matrix)
    blocks = list(iter_blocks((int(out.shape[-2]), int(out.shape[-1])), block))
    for count, box in enumerate(blocks, start=1):
        out[..., box[0]:box[1], box[2]:box[3]] = cast_to(_warp_block(moving, matrix, inverse, box, order, fill),
                                                          out.dtype)
        if progress is not None:
            progress(f"warp block {count}/{len(blocks)}")


def _warp_block(moving: Any, matrix: np.ndarray, inverse: np.ndarray, box: tuple[int, int, int, int], order: int,
                fill: float) -> np.ndarray:
    y0, y1, x0, x1 = box
    height, width = int(moving.shape[-2]), int(moving.shape[-1])
    result = np.full(tuple(moving.shape[:-2]) + (y1 - y0, x1 - x0), fill, np.float32)
    corners = apply_affine(inverse, np.array([[x0, y0], [x1 - 1, y0], [x0, y1 - 1], [x1 - 1, y1 - 1]]))
    margin = 2 + order
    sx0, sy0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - margin, 0)
    sx1, sy1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + margin + 1, (width, height))
    if sx1 <= sx0 or sy1 <= sy0:
        return result
    region = np.asarray(moving[..., sy0:sy1, sx0:sx1], dtype=np.float32)
    local = compose_affine(translation(-x0, -y0), compose_affine(matrix, translation(sx0, sy0)))
    planes = region.reshape(-1, sy1 - sy0, sx1 - sx0)
    warped = np.stack([cv2.warpAffine(plane, local, (x1 - x0, y1 - y0), flags=_INTERPOLATION[order],
                                      borderMode=cv2.BORDER_REPLICATE) for plane in planes])
    ys, xs = np.mgrid[y0:y1, x0:x1]
    source_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    source_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    inside = (source_x >= -0.5) & (source_x <= width - 0.5) & (source_y >= -0.5) & (source_y <= height - 0.5)
    result[...] = np.where(inside, warped.reshape(result.shape), np.float32(fill))
    return result

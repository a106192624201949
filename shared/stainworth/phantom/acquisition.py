"""The tiled acquisition: tile grid, stage jitter, fluorescence-to-QPI misregistration.

Frames
------
* **Mosaic frame** (QPI): origin at the nominal position of tile (0, 0); shape
  ``AcquisitionConfig.mosaic_shape``. Tile positions (nominal and true) are top-left corners in
  this frame and every tile lies inside it.
* **Field frame**: the mosaic frame plus a margin ``m`` on every side (field = mosaic + m), so
  that cells straddle the mosaic border, the defocus propagation sees real sample around each
  tile and the misregistered fluorescence camera sees sample beyond the mosaic.
* **Fluorescence frame**: the fluorescence camera's mosaic frame; pixel (x, y) of it images the
  QPI mosaic point ``A @ (x, y, 1)`` with the 2 x 3 affine A (OpenCV convention, x first).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from stainworth.contracts.phantom import AcquisitionConfig, PhantomConfig
from stainworth.phantom.optics import fast_margin

MARGIN_SLACK_PX = 4
"""Extra field margin beyond the largest misregistration displacement."""


def tile_grid(acquisition: AcquisitionConfig) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Row-major (row, col) indices and nominal top-left positions (y, x) of the tiles.

    Returns
    -------
    tile_index : list of tuple of int
        (row, col) per tile.
    nominal : numpy.ndarray
        (n_tiles, 2) int64 positions (y, x) = (row * step, col * step), px.
    """
    step = acquisition.step_px
    index = [(r, c) for r in range(acquisition.rows) for c in range(acquisition.cols)]
    nominal = np.array([(r * step, c * step) for r, c in index], dtype=np.int64)
    return index, nominal


def jittered_positions(
    rng: np.random.Generator, nominal: np.ndarray, acquisition: AcquisitionConfig
) -> np.ndarray:
    """True stage positions: nominal plus integer Gaussian jitter clipped at ceil(3 sigma).

    Positions are also clipped so that every tile stays inside the mosaic frame (tiles on the
    mosaic border therefore jitter inwards only).

    Returns
    -------
    numpy.ndarray
        (n_tiles, 2) int64 positions (y, x), px.
    """
    clip = acquisition.jitter_clip_px
    jitter = np.rint(rng.normal(0.0, acquisition.stage_jitter_px, nominal.shape))
    jitter = np.clip(jitter, -clip, clip)
    height, width = acquisition.mosaic_shape
    limit = np.array([height, width]) - acquisition.tile_size_px
    return np.clip(nominal + jitter.astype(np.int64), 0, limit)


def draw_misregistration(
    rng: np.random.Generator, acquisition: AcquisitionConfig
) -> np.ndarray:
    """Affine mapping fluorescence mosaic pixels (x, y) to QPI mosaic pixels (x, y).

    A rotation by theta and a scale s about the mosaic centre c, then a shift t:
    ``q = c + s R(theta) (f - c) + t``; theta, s - 1 and each component of t are uniform within
    their configured maxima.

    Returns
    -------
    numpy.ndarray
        (2, 3) float64 affine in OpenCV convention.
    """
    theta = math.radians(rng.uniform(-1.0, 1.0) * acquisition.max_rotation_deg)
    scale = 1.0 + rng.uniform(-1.0, 1.0) * acquisition.max_scale_deviation
    shift = rng.uniform(-1.0, 1.0, 2) * acquisition.max_shift_px
    height, width = acquisition.mosaic_shape
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    linear = scale * np.array([[math.cos(theta), -math.sin(theta)],
                               [math.sin(theta), math.cos(theta)]])
    translation = centre + shift - linear @ centre
    return np.hstack([linear, translation[:, None]])


def field_margin(config: PhantomConfig) -> int:
    """Margin (px) of the field around the mosaic: propagation margin and misregistration reach."""
    acq = config.acquisition
    height, width = acq.mosaic_shape
    half_diagonal = 0.5 * math.hypot(height, width)
    reach = (math.sqrt(2.0) * acq.max_shift_px
             + half_diagonal * (math.radians(acq.max_rotation_deg) + acq.max_scale_deviation))
    propagation = fast_margin(acq.tile_size_px, config.optics.propagation_margin_px)
    return max(propagation, math.ceil(reach)) + MARGIN_SLACK_PX


def to_fluorescence_frame(
    image_field: np.ndarray, affine: np.ndarray, *, margin: int, mosaic_shape: tuple[int, int]
) -> np.ndarray:
    """Resample a field-frame image into the fluorescence mosaic frame (bilinear).

    Parameters
    ----------
    image_field
        (H + 2 m, W + 2 m) float32 image in the field frame.
    affine
        (2, 3) fluorescence-to-QPI mosaic affine (x, y).
    margin
        Field margin m, px.
    mosaic_shape
        (H, W) of the mosaic.

    Returns
    -------
    numpy.ndarray
        (H, W) float32 image in the fluorescence frame.
    """
    to_field = affine.copy()
    to_field[:, 2] += margin
    return cv2.warpAffine(
        np.ascontiguousarray(image_field, dtype=np.float32), to_field,
        (mosaic_shape[1], mosaic_shape[0]),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT,
    )


def cut(image: np.ndarray, position_yx: np.ndarray, size: int, *, offset: int = 0) -> np.ndarray:
    """The ``size`` x ``size`` tile at ``position_yx`` (+ ``offset`` on both axes), a view."""
    y, x = int(position_yx[0]) + offset, int(position_yx[1]) + offset
    return image[y:y + size, x:x + size]

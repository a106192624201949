"""Translation-only registration of a fluorescence mosaic onto the label-free mosaic.

For channels that are co-registered up to a shift (one camera, one stage position per field),
and for modality pairs on which keypoints do not match: in phase contrast a nucleus is a dark
body inside a bright halo, in DAPI a filled blob, but their centres coincide. Both mosaics are
downsampled so their longest side is at most ``max_side`` px, turned into nucleus images
(:func:`~stainworth.mosaic.features.feature_image`), and aligned by cross-correlation; the
label-free image is tried with both polarities (nuclei bright as in QPI, or dark as in phase
contrast) and the better-correlated one is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stainworth.errors import InputDataError
from stainworth.mosaic.chunked import downsample
from stainworth.mosaic.correlate import correlation_shift, ncc
from stainworth.mosaic.features import feature_image


@dataclass(frozen=True)
class TranslationResult:
    """A shift mapping moving (fluorescence) pixels onto fixed (label-free) pixels.

    Attributes
    ----------
    matrix
        (2, 3) float64 affine ``[[1, 0, dx], [0, 1, dy]]`` (OpenCV convention, as
        :class:`~stainworth.mosaic.register.RegistrationResult`).
    correlation
        Pearson correlation of the two feature images after the shift, -1..1.
    polarity
        +1 when label-free nuclei are bright (QPI), -1 when dark (phase contrast).
    """

    matrix: np.ndarray
    correlation: float
    polarity: float


def register_translation(fixed: Any, moving: Any, *, max_side: int = 2048, nucleus_diameter_px: float = 30.0,
                         max_shift_px: float | None = None) -> TranslationResult:
    """Shift aligning ``moving`` onto ``fixed``, by cross-correlation of their nucleus images.

    Parameters
    ----------
    fixed
        (H, W) label-free mosaic (numpy or zarr).
    moving
        (H, W) fluorescence channel of the same size (numpy, zarr or
        :class:`~stainworth.mosaic.chunked.ChannelView`).
    max_side
        Longest side of the downsampled copies, px; the shift resolution is about
        ``0.1 * ceil(max(H, W) / max_side)`` px.
    nucleus_diameter_px
        Typical nucleus diameter in the fixed mosaic, px.
    max_shift_px
        Largest shift considered, full-resolution px (``None``: any).

    Returns
    -------
    TranslationResult

    Raises
    ------
    InputDataError
        When the two mosaics differ in size or hold NaN/Inf pixels.
    """
    if tuple(fixed.shape) != tuple(moving.shape) or len(fixed.shape) != 2:
        raise InputDataError(f"registration (translation): fixed {tuple(fixed.shape)} and moving "
                             f"{tuple(moving.shape)} must be 2-D and of one size; use method 'affine'")
    factor = max(-(-max(*fixed.shape) // max_side), 1)
    diameter = nucleus_diameter_px / factor
    fixed_small, moving_small = downsample(fixed, factor), downsample(moving, factor)
    for name, image in (("label-free (fixed)", fixed_small), ("fluorescence (moving)", moving_small)):
        if not np.all(np.isfinite(image)):
            raise InputDataError(f"registration: the {name} mosaic has NaN/Inf pixels; expected finite values")
    target = feature_image(moving_small, nucleus_diameter_px=diameter)
    limit = None if max_shift_px is None else max_shift_px / factor
    best = (-2.0, np.zeros(2), 1.0)
    for polarity in (1.0, -1.0):
        reference = feature_image(polarity * fixed_small, nucleus_diameter_px=diameter)
        shift = correlation_shift(reference, target, max_shift=limit)
        score = _shifted_ncc(reference, target, shift)
        if score > best[0]:
            best = (score, shift, polarity)
    score, (dy, dx), polarity = best
    matrix = np.array([[1.0, 0.0, dx * factor], [0.0, 1.0, dy * factor]])
    return TranslationResult(matrix=matrix, correlation=float(score), polarity=polarity)


def _shifted_ncc(reference: np.ndarray, moving: np.ndarray, shift: np.ndarray) -> float:
    """NCC of ``reference`` and ``moving`` shifted by the integer-rounded ``shift`` over their overlap."""
    dy, dx = (int(round(v)) for v in shift)
    height, width = reference.shape
    ref = reference[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)]
    mov = moving[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return ncc(ref, mov) if ref.size else -1.0

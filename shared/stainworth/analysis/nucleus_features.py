"""Hand-made per-nucleus features of a masked canvas, and their AUC as single-feature observers.

Each feature is a fixed function of one nucleus's image and mask (no training, no parameter chosen
from the data):

* ``area``: mask pixels;
* ``mean``: mean intensity inside the mask (mean nuclear phase, or mean marker counts);
* ``integrated``: summed intensity inside the mask;
* ``cv``: coefficient of variation inside the mask (standard deviation / mean);
* ``texture``: RMS of the high-pass residual ``image - local mean`` inside the mask eroded by
  :data:`EDGE_PX`, the local mean a Gaussian of :data:`TEXTURE_SIGMA_PX` normalised to the mask
  (so the black canvas outside does not leak in);
* ``spots``: local maxima (3 x 3) of the scale-normalised negative Laplacian of Gaussian
  (sigma :data:`SPOT_SIGMA_PX`, about a heterochromatin focus) inside the eroded mask that exceed
  the nucleus's median response by :data:`SPOT_MADS` robust standard deviations (1.4826 MAD).

:func:`feature_aucs` scores each feature as an observer: the empirical AUC of treated against
control with DeLong's 95 % interval (:func:`stainworth.metrics.empirical_auc`). An AUC below 0.5
means the feature is lower in treated nuclei.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from stainworth.errors import InputDataError
from stainworth.metrics.roc import AucEstimate, empirical_auc

FEATURES = ("area", "mean", "integrated", "cv", "texture", "spots")
"""The features, in table order."""
TEXTURE_SIGMA_PX = 2.0
"""Gaussian sigma of the local mean removed by the high-pass texture, px (0.64 um at 0.32 um/px)."""
SPOT_SIGMA_PX = 1.5
"""Laplacian-of-Gaussian sigma of the spot detector, px (a focus of radius ~2 px)."""
SPOT_MADS = 3.0
"""Spot threshold above the nucleus's median response, in robust standard deviations."""
EDGE_PX = 3
"""Erosion of the mask before texture and spots, px (the filters' reach into the black canvas)."""


def _check(images: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images, masks = np.asarray(images, dtype=np.float64), np.asarray(masks) != 0
    if images.ndim != 3 or images.shape != masks.shape:
        raise InputDataError(f"images {images.shape} and masks {masks.shape}: expected the same (n, S, S) shape")
    empty = np.flatnonzero(masks.sum(axis=(1, 2)) == 0)
    if empty.size:
        raise InputDataError(f"masks {empty[:5].tolist()}: empty; expected one nucleus per canvas")
    if not np.isfinite(images[masks]).all():
        raise InputDataError("images: NaN/Inf inside a nucleus; expected finite intensities")
    return np.where(masks, images, 0.0), masks


def _inner(masks: np.ndarray) -> np.ndarray:
    """Masks eroded by :data:`EDGE_PX` (a nucleus too small to erode keeps its whole mask)."""
    eroded = ndimage.binary_erosion(masks, structure=np.ones((1, 3, 3), bool), iterations=EDGE_PX)
    too_small = eroded.sum(axis=(1, 2)) == 0
    eroded[too_small] = masks[too_small]
    return eroded


def _masked_rms(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    return np.sqrt((np.square(values) * where).sum(axis=(1, 2)) / where.sum(axis=(1, 2)))


def high_pass_texture(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """RMS of ``image - mask-normalised Gaussian local mean`` inside each eroded mask, (n,) float64."""
    images, masks = _check(images, masks)
    sigma = (0.0, TEXTURE_SIGMA_PX, TEXTURE_SIGMA_PX)
    weight = ndimage.gaussian_filter(masks.astype(np.float64), sigma)
    local = ndimage.gaussian_filter(images, sigma) / np.maximum(weight, 1e-12)
    return _masked_rms(images - local, _inner(masks))


def spot_count(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Spots of each nucleus by the fixed LoG detector of the module docstring, (n,) float64."""
    images, masks = _check(images, masks)
    sigma = (0.0, SPOT_SIGMA_PX, SPOT_SIGMA_PX)  # per image: no derivative across the stack axis
    laplacian = (ndimage.gaussian_filter(images, sigma, order=(0, 2, 0))
                 + ndimage.gaussian_filter(images, sigma, order=(0, 0, 2)))
    response = -SPOT_SIGMA_PX**2 * laplacian
    inner = _inner(masks)
    inside = np.where(inner, response, np.nan).reshape(len(images), -1)
    median = np.nanmedian(inside, axis=1)
    spread = 1.4826 * np.nanmedian(np.abs(inside - median[:, None]), axis=1)
    peaks = response == ndimage.maximum_filter(response, size=(1, 3, 3))
    strong = response > (median + SPOT_MADS * spread)[:, None, None]
    return (peaks & strong & inner).sum(axis=(1, 2)).astype(np.float64)


def nucleus_features(images: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """Every feature of :data:`FEATURES` for (n, S, S) canvases and their masks.

    Parameters
    ----------
    images
        (n, S, S) intensities (phase in rad, or camera counts).
    masks
        (n, S, S) nucleus masks, non-zero inside; none empty.

    Returns
    -------
    dict of str to numpy.ndarray
        (n,) float64 per feature, keyed as in :data:`FEATURES`.

    Raises
    ------
    InputDataError
        Shapes that differ or are not (n, S, S), an empty mask, or NaN/Inf inside a nucleus.

    Examples
    --------
    >>> image = np.zeros((1, 9, 9)); image[0, 2:7, 2:7] = 2.0
    >>> features = nucleus_features(image, image > 0)
    >>> [float(features[k][0]) for k in ("area", "mean", "integrated", "cv")]
    [25.0, 2.0, 50.0, 0.0]
    """
    images, masks = _check(images, masks)
    area = masks.sum(axis=(1, 2)).astype(np.float64)
    integrated = images.sum(axis=(1, 2))
    mean = integrated / area
    spread = _masked_rms(images - mean[:, None, None], masks)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean != 0, spread / np.abs(mean), np.nan)
    return {"area": area, "mean": mean, "integrated": integrated, "cv": cv,
            "texture": high_pass_texture(images, masks), "spots": spot_count(images, masks)}


def feature_aucs(images: np.ndarray, masks: np.ndarray, labels: np.ndarray, *,
                 confidence: float = 0.95) -> dict[str, AucEstimate]:
    """AUC (treated vs control) of each single feature, with DeLong's interval.

    Parameters
    ----------
    images, masks
        As for :func:`nucleus_features`.
    labels
        (n,) 0 control, 1 treated.
    confidence
        Coverage of the intervals.

    Returns
    -------
    dict of str to AucEstimate
        Keyed as in :data:`FEATURES`.
    """
    features = nucleus_features(images, masks)
    return {name: empirical_auc(values, labels, confidence=confidence) for name, values in features.items()}

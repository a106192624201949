"""Image-quality metrics of virtually stained images against the measured fluorescence (numpy in, numpy out).

Every metric compares one ``prediction`` with one ``target`` of the same shape, both real and
finite; the target sets the scale. Conventions:

- **data range** (SSIM, PSNR, NRMSE): ``target.max() - target.min()`` of each target image, so
  scores do not depend on the intensity units and a prediction is judged on its target's own
  dynamic range (predicted values outside that range are not clipped). A constant target has no
  range; it falls back to 1.0, i.e. errors are then measured in the image's own units (the
  alternative, dividing by 0, would give infinite or undefined scores for the image).
- **SSIM**: :func:`skimage.metrics.structural_similarity` as in Wang et al. 2004 [1]_: Gaussian
  weights with sigma 1.5 (an 11 x 11 window), population covariances
  (``use_sample_covariance=False``), K1 = 0.01, K2 = 0.03, mean over the pixels at least 5 px
  from the border. Images must be at least 11 px on each side.
- **PSNR**: ``10 log10(range**2 / MSE)`` in dB (:func:`skimage.metrics.peak_signal_noise_ratio`
  with that data range); identical images give ``float('inf')``.
  :func:`summarise` caps it at :data:`PSNR_CAP_DB` (100 dB, an RMSE of 1e-5 of the range: as good
  as identical for float32 data) so that a perfect image raises the mean instead of making it
  infinite; excluding it would instead lower the mean.
- **Pearson** correlation coefficient: if either image is constant the coefficient is undefined
  (0 / 0); it is reported as 0.0 - a constant image carries no linear information about the
  other - rather than NaN, which would poison means.
- **MSE** (:func:`skimage.metrics.mean_squared_error`) and **NRMSE** (``sqrt(MSE) / range``:
  :func:`skimage.metrics.normalized_root_mse` with ``normalization="min-max"``, whose range is
  the target's ``max - min``; a constant target, which skimage would divide by 0, gets 1.0).
- **Pearson inside the nucleus** (``pearson_nucleus``, when masks are given): the correlation
  over the pixels of the item's nucleus mask only. SSIM, PSNR and whole-image correlation are
  dominated by the dark background of a mostly empty crop; the chromatin pattern inside the
  nucleus is what a downstream task reads. Items with fewer than :data:`MIN_NUCLEUS_PIXELS`
  mask pixels have no such score (NaN, left out of summaries; :func:`summarise` reports how many
  values each mean is over).

References
----------
.. [1] Wang Z, Bovik AC, Sheikh HR, Simoncelli EP (2004). Image quality assessment: from error
       visibility to structural similarity. IEEE Trans. Image Process. 13(4):600-612.
       doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from skimage.metrics import mean_squared_error, normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from stainworth.errors import InputDataError
from stainworth.metrics.mean_interval import MeanInterval, t_interval

METRICS = ("ssim", "psnr", "pearson", "mse", "nrmse")
"""Names of the per-image metrics, in the order :func:`image_quality` returns them."""

MASKED_METRICS = ("pearson_nucleus",)
"""Per-image metrics added by :func:`image_quality` when nucleus masks are given."""

MIN_NUCLEUS_PIXELS = 16
"""Fewest mask pixels for which ``pearson_nucleus`` is computed."""

PSNR_CAP_DB = 100.0
"""PSNR values above this (identical images: infinity) count as this in :func:`summarise`."""

SSIM_SIGMA = 1.5
SSIM_MIN_SIDE = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1
"""Side of skimage's Gaussian SSIM window for ``SSIM_SIGMA`` (11 px): the smallest image side."""


def _pair(prediction: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64, refusing mismatched shapes and non-finite or non-real values."""
    p, t = np.asarray(prediction), np.asarray(target)
    if p.shape != t.shape:
        raise InputDataError(f"image quality: prediction of shape {p.shape} and target of shape {t.shape}; "
                             "expected the same shape")
    for name, values in (("prediction", p), ("target", t)):
        if values.size == 0 or not (np.issubdtype(values.dtype, np.integer)
                                    or np.issubdtype(values.dtype, np.floating)):
            raise InputDataError(f"image quality: {name} of dtype {values.dtype} and shape {values.shape}; "
                                 "expected a non-empty real image")
    p, t = p.astype(np.float64), t.astype(np.float64)
    for name, values in (("prediction", p), ("target", t)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise InputDataError(f"image quality: {name} has {bad} NaN/Inf pixels; expected finite values")
    return p, t


def data_range(target: np.ndarray) -> float:
    """``target.max() - target.min()``, or 1.0 for a constant target (see the module docstring).

    Parameters
    ----------
    target
        Real image.

    Returns
    -------
    float
    """
    spread = float(np.max(target)) - float(np.min(target))
    return spread if spread > 0 else 1.0


def mse(prediction: Any, target: Any) -> float:
    """Mean squared error.

    Parameters
    ----------
    prediction, target
        Real images of one shape.

    Returns
    -------
    float
    """
    p, t = _pair(prediction, target)
    return _mse(p, t)


def _mse(p: np.ndarray, t: np.ndarray) -> float:
    return float(mean_squared_error(t, p))


def nrmse(prediction: Any, target: Any) -> float:
    """Root mean squared error over the target's data range (1.0 for a constant target).

    Parameters
    ----------
    prediction, target
        Real images of one shape.

    Returns
    -------
    float
    """
    return _nrmse(*_pair(prediction, target))


def _nrmse(p: np.ndarray, t: np.ndarray) -> float:
    if np.ptp(t) == 0:  # skimage's "min-max" would divide by the range 0; the module's fallback range is 1.0
        return math.sqrt(_mse(p, t))
    return float(normalized_root_mse(t, p, normalization="min-max"))


def psnr(prediction: Any, target: Any) -> float:
    """Peak signal-to-noise ratio in dB, with the target's data range as the peak.

    Parameters
    ----------
    prediction, target
        Real images of one shape.

    Returns
    -------
    float
        ``float('inf')`` for identical images (see :data:`PSNR_CAP_DB` for summaries).
    """
    p, t = _pair(prediction, target)
    return _psnr(p, t, data_range(t))


def _psnr(p: np.ndarray, t: np.ndarray, spread: float) -> float:
    with np.errstate(divide="ignore"):  # identical images: MSE 0, PSNR inf
        return float(peak_signal_noise_ratio(t, p, data_range=spread))


def pearson(prediction: Any, target: Any) -> float:
    """Pearson correlation coefficient of the pixel values; 0.0 if either image is constant.

    Parameters
    ----------
    prediction, target
        Real images of one shape.

    Returns
    -------
    float
        In [-1, 1].
    """
    return _pearson(*_pair(prediction, target))


def _pearson(p: np.ndarray, t: np.ndarray) -> float:
    dp, dt = p - p.mean(), t - t.mean()
    norm = math.sqrt(float(np.sum(dp * dp)) * float(np.sum(dt * dt)))
    if norm == 0:
        return 0.0
    return float(np.clip(np.sum(dp * dt) / norm, -1.0, 1.0))


def ssim(prediction: Any, target: Any) -> float:
    """Mean structural similarity (Wang et al. 2004, Gaussian 11 x 11 window) with the target's data range.

    Parameters
    ----------
    prediction, target
        Real (H, W) images of one shape, at least 11 px on each side.

    Returns
    -------
    float
        At most 1 (identical images).

    Raises
    ------
    InputDataError
        Mismatched shapes, not 2-D, or a side shorter than the SSIM window.
    """
    p, t = _pair(prediction, target)
    return _ssim(p, t, data_range(t))


def _ssim(p: np.ndarray, t: np.ndarray, spread: float) -> float:
    if p.ndim != 2 or min(p.shape) < SSIM_MIN_SIDE:
        raise InputDataError(f"image quality: SSIM of images of shape {p.shape}; expected (H, W) images of at "
                             f"least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} px (the Gaussian window)")
    return float(structural_similarity(p, t, data_range=spread, gaussian_weights=True, sigma=SSIM_SIGMA,
                                       use_sample_covariance=False))


def _scores(p: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Every metric of one validated pair."""
    spread = data_range(t)
    return {"ssim": _ssim(p, t, spread), "psnr": _psnr(p, t, spread), "pearson": _pearson(p, t), "mse": _mse(p, t),
            "nrmse": _nrmse(p, t)}


def nucleus_pearson(p: np.ndarray, t: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation over the mask's pixels; NaN below :data:`MIN_NUCLEUS_PIXELS` of them."""
    inside = np.asarray(mask) > 0
    if int(np.count_nonzero(inside)) < MIN_NUCLEUS_PIXELS:
        return float("nan")
    return _pearson(p[inside], t[inside])


def image_quality(predictions: Any, targets: Any, *, masks: Any | None = None) -> dict[str, np.ndarray]:
    """Every metric for every image of a batch.

    Parameters
    ----------
    predictions, targets
        (N, H, W) batches of one shape (numpy, or anything indexable that yields one image per
        item, read one image at a time); a single (H, W) pair counts as N = 1.
    masks
        Optional nucleus masks of the same shape (non-zero inside); adds ``pearson_nucleus``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{metric: (N,) float64}`` for each name in :data:`METRICS` (then
        :data:`MASKED_METRICS` when masks are given).

    Raises
    ------
    InputDataError
        Mismatched shapes (all are named), not (N, H, W) or (H, W), non-finite values, or
        images too small for SSIM.
    """
    p_shape, t_shape = tuple(np.shape(predictions)), tuple(np.shape(targets))
    m_shape = t_shape if masks is None else tuple(np.shape(masks))
    if p_shape != t_shape or m_shape != t_shape:
        raise InputDataError(f"image quality: predictions of shape {p_shape}, targets of shape {t_shape}"
                             + ("" if masks is None else f" and masks of shape {m_shape}") + "; expected one shape")
    if len(p_shape) not in (2, 3):
        raise InputDataError(f"image quality: batches of shape {p_shape}; expected (N, H, W) or (H, W)")
    if len(p_shape) == 2:
        predictions, targets = np.asarray(predictions)[None], np.asarray(targets)[None]
        masks = None if masks is None else np.asarray(masks)[None]
    count = int(np.shape(predictions)[0])
    names = METRICS + (() if masks is None else MASKED_METRICS)
    result = {name: np.empty(count, np.float64) for name in names}
    for i in range(count):
        p, t = _pair(predictions[i], targets[i])
        scores = _scores(p, t)
        if masks is not None:
            scores["pearson_nucleus"] = nucleus_pearson(p, t, masks[i])
        for name, value in scores.items():
            result[name][i] = value
    return result


def summarise(per_image: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation, median and 5th / 95th percentiles of each metric over images.

    Parameters
    ----------
    per_image
        ``{metric: values}``, e.g. from :func:`image_quality`.

    Returns
    -------
    dict of str to dict of str to float
        ``{metric: {"mean", "std", "median", "p5", "p95", "n"}}``. ``std`` is the population
        standard deviation (ddof 0); ``n`` counts the finite values the statistics are over.
        PSNR values above :data:`PSNR_CAP_DB` (infinity for identical images) count as the cap;
        remaining NaN values are left out, and a metric without any finite value gets NaN
        statistics (and ``n`` 0).
    """
    summary = {}
    for name, raw in per_image.items():
        values = np.asarray(raw, dtype=np.float64).ravel()
        if name == "psnr":
            values = np.minimum(values, PSNR_CAP_DB)
        values = values[np.isfinite(values)]
        if values.size == 0:
            summary[name] = dict.fromkeys(("mean", "std", "median", "p5", "p95"), float("nan")) | {"n": 0.0}
            continue
        summary[name] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "median": float(np.median(values)),
            "p5": float(np.percentile(values, 5)),
            "p95": float(np.percentile(values, 95)),
            "n": float(values.size),
        }
    return summary


PairedDifference = MeanInterval
"""Mean per-image difference ``a - b`` of one metric on the same test images, with its interval;
``n`` counts the images with a finite value of both."""


def paired_difference(a: Any, b: Any, *, confidence: float = 0.95) -> PairedDifference:
    """Paired t interval of the mean difference between two methods' per-image scores.

    The images are the unit: the interval covers the test-set sampling of one trained stainer,
    not the spread between trainings. Pairs with a NaN on either side are left out (e.g.
    ``pearson_nucleus`` of an image with a small nucleus). When every difference is equal up to
    rounding (a method against itself, or against itself plus a constant) the estimate is that
    value with no spread: se 0, the interval the point, p NaN (a t test is undefined without
    spread), and the method says so (:func:`stainworth.metrics.mean_interval.t_interval`).

    Raises
    ------
    InputDataError
        Arrays of different lengths, or fewer than two finite pairs.
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputDataError(f"paired difference: {x.size} and {y.size} values; expected one per image on both sides")
    finite = np.isfinite(x) & np.isfinite(y)
    d = x[finite] - y[finite]
    if d.size < 2:
        raise InputDataError(f"paired difference: {d.size} images with both values finite; expected at least 2")
    return t_interval(d, confidence=confidence, method="paired t over test images")

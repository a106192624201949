"""Paired bootstrap confidence interval for a difference of per-image mean scores.

Two modalities (say virtual staining and label-free input) are scored on the same test images,
giving per-image values ``a`` and ``b`` (Dice, precision, ...). The quantity of interest is the
difference of their means, ``mean(a) - mean(b) = mean(a - b)``. The paired bootstrap resamples
image indices with replacement, the same indices for both modalities, so the correlation between
the two scores of one image is kept, and recomputes the difference for each resample.

The resampling and the interval are :func:`scipy.stats.bootstrap` with ``paired=True`` (the
resampled image indices are drawn by ``numpy.random.default_rng(seed).integers``, as in
:func:`resampled_means`). Intervals:

- ``percentile``: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
  resampled differences.
- ``bca`` (bias-corrected and accelerated; Efron 1987): quantile levels shifted by the bias
  correction ``z0 = Phi^-1(share of resamples below the estimate)`` (ties count half) and the
  acceleration ``a`` from the jackknife (leave-one-image-out) differences,
  ``a = sum(d^3) / (6 sum(d^2)^1.5)`` with ``d`` the deviations of the jackknife values from
  their mean. The levels are ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z`` the normal
  quantiles of the percentile levels. When every per-image difference is the same (up to
  rounding), the jackknife has no spread and the acceleration is 0 / 0 (scipy's interval is
  NaN); the interval and the p-value are then the percentile ones (``z0 = a = 0``): for equal
  differences, the point.

scipy gives no p-value; it is computed here from scipy's resampled differences, with the same
``z0`` and ``a`` (recomputed: scipy does not return them).

The p-value is two-sided, for "no difference", and never 0 (Davison & Hinkley 1997, eq. 4.11):
with ``n_below = #(diff < 0) + #(diff == 0) / 2`` and ``n_above = #(diff > 0) + #(diff == 0) / 2``,
the tail shares ``F_low = (n_below + 1) / (n_boot + 1)`` and ``F_high = (n_above + 1) / (n_boot + 1)``,
and ``p = min(1, 2 min(F_low, F_high))`` for the percentile method. For ``bca`` the smaller
tail's level ``F0`` (``F_low``, or ``1 - F_high``) is first mapped through the BCa correction
(``w = Phi^-1(F0) - z0``, ``z = w / (1 + a w) - z0``, ``p = 2 Phi(-|z|)``), so that zero lies outside
the interval when ``p < 1 - confidence`` up to the ``+1`` (one resample in ``n_boot``); with
``z0 = a = 0`` the two definitions nearly coincide. Either way ``p >= 2 / (n_boot + 1)``, the
smallest two-sided p-value ``n_boot`` resamples can show: report it as "p <= 2 / (n_boot + 1)".

Images where either value is NaN (e.g. recall on an image without nuclei) are dropped from both
and counted in ``n_dropped``.

References
----------
Efron, B. Better bootstrap confidence intervals. J. Am. Stat. Assoc. 82, 171-185 (1987).
https://doi.org/10.1080/01621459.1987.10478410

Efron, B. & Tibshirani, R. J. An Introduction to the Bootstrap, ch. 14 and 16 (Chapman & Hall,
1993).

Davison, A. C. & Hinkley, D. V. Bootstrap Methods and their Application, sec. 4.2.1 (Cambridge
University Press, 1997). https://doi.org/10.1017/CBO9780511802843
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import DegenerateDataWarning, bootstrap

from stainworth.errors import ConfigError, InputDataError

METHODS = ("bca", "percentile")
_CELLS = 1 << 22  # resampled indices drawn at a time (~32 MB of int64)


@dataclass(frozen=True)
class PairedBootstrapResult:
    """Paired bootstrap estimate of ``mean(a) - mean(b)``.

    Attributes
    ----------
    difference : float
        ``mean(a) - mean(b)`` over the kept pairs.
    ci_low, ci_high : float
        Confidence interval of the difference.
    confidence : float
        Nominal coverage of the interval, e.g. 0.95.
    method : str
        ``"bca"`` or ``"percentile"``.
    n_boot : int
        Number of resamples.
    p_value : float
        Two-sided bootstrap p-value for "no difference" (see the module docstring); at least
        ``2 / (n_boot + 1)``, never 0.
    n_pairs : int
        Number of paired images used.
    n_dropped : int
        Number of images dropped because a value was NaN.
    """

    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    n_boot: int
    p_value: float
    n_pairs: int
    n_dropped: int


def _paired_values(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise InputDataError(f"per-image values must be 1-D arrays; got shapes {a.shape} and {b.shape}")
    if a.size != b.size:
        raise InputDataError(f"paired values differ in length: {a.size} vs {b.size}; expected one value per "
                             "test image for both modalities")
    if np.isinf(a).any() or np.isinf(b).any():
        raise InputDataError("paired values contain infinite values; expected finite scores (NaN = undefined)")
    keep = ~(np.isnan(a) | np.isnan(b))
    if np.count_nonzero(keep) < 2:
        raise InputDataError(f"paired bootstrap needs at least 2 images with both values defined; got "
                             f"{np.count_nonzero(keep)} of {a.size}")
    return a[keep], b[keep], int(a.size - np.count_nonzero(keep))


def _check_options(n_boot: int, confidence: float, method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"method: found {method!r}; expected one of {', '.join(METHODS)}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence: found {confidence}; expected a level in (0, 1), e.g. 0.95")
    if n_boot < 100:
        raise ConfigError(f"n_boot: found {n_boot}; expected at least 100 resamples (10000 recommended)")


def resampled_means(values: np.ndarray, *, n_boot: int, seed: int) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``values``.

    Parameters
    ----------
    values : numpy.ndarray
        (n,) values, e.g. per-image differences.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray
        (n_boot,) resampled means.
    """
    rng = np.random.default_rng(seed)
    n = values.size
    rows = max(1, _CELLS // n)
    means = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(start + rows, n_boot)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def _bias_and_acceleration(boot: np.ndarray, estimate: float, values: np.ndarray) -> tuple[float, float]:
    below = (np.count_nonzero(boot < estimate) + 0.5 * np.count_nonzero(boot == estimate)) / boot.size
    z0 = float(ndtri(np.clip(below, 0.5 / boot.size, 1 - 0.5 / boot.size)))
    jackknife = (values.sum() - values) / (values.size - 1)
    deviations = jackknife.mean() - jackknife
    scale = float(np.sum(deviations**2))
    accel = float(np.sum(deviations**3) / (6 * scale**1.5)) if scale > 0 else 0.0
    return z0, accel


def _p_value(boot: np.ndarray, z0: float, accel: float) -> float:
    ties = 0.5 * np.count_nonzero(boot == 0)
    n_below, n_above = np.count_nonzero(boot < 0) + ties, np.count_nonzero(boot > 0) + ties
    low, high = (n_below + 1) / (boot.size + 1), (n_above + 1) / (boot.size + 1)
    floor = 2.0 / (boot.size + 1)
    if z0 == 0.0 and accel == 0.0:
        return float(min(1.0, max(floor, 2 * min(low, high))))
    level = low if n_below <= n_above else 1.0 - high
    w = float(ndtri(level)) - z0
    if 1 + accel * w <= 0:
        return floor
    z = w / (1 + accel * w) - z0
    return float(min(1.0, max(floor, 2 * ndtr(-abs(z)))))


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, n_boot: int = 10_000, confidence: float = 0.95,
                     method: str = "bca", seed: int = 0) -> PairedBootstrapResult:
    """Confidence interval and p-value for ``mean(a) - mean(b)`` over the same test images.

    Parameters
    ----------
    a, b : numpy.ndarray
        (n,) per-image values of two modalities on the same images, in the same order. NaN
        marks an undefined value; such images are dropped from both.
    n_boot : int, optional
        Number of resamples (default 10000; at least 100).
    confidence : float, optional
        Nominal coverage (default 0.95).
    method : {"bca", "percentile"}, optional
        Interval method (default ``"bca"``).
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same result.

    Returns
    -------
    PairedBootstrapResult
        Difference, interval, p-value and counts.

    Raises
    ------
    InputDataError
        The arrays differ in length, are not 1-D, hold infinities, or fewer than 2 pairs are
        defined.
    ConfigError
        Unknown method, confidence outside (0, 1) or fewer than 100 resamples.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> b = rng.uniform(0.6, 0.9, 500)
    >>> a = b + rng.normal(0.02, 0.05, 500)
    >>> result = paired_bootstrap(a, b, n_boot=2000)
    >>> round(result.difference, 3), round(result.ci_low, 3), round(result.ci_high, 3), round(result.p_value, 4)
    (0.017, 0.012, 0.021, 0.001)
    """
    _check_options(n_boot, confidence, method)
    a, b, n_dropped = _paired_values(a, b)
    differences = a - b
    estimate = float(differences.mean())
    options = {"n_resamples": n_boot, "batch": max(1, _CELLS // a.size), "vectorized": True, "paired": True,
               "confidence_level": confidence}
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", DegenerateDataWarning)  # handled below
        result = bootstrap((a, b), _mean_difference, method=method.replace("bca", "BCa"),
                           rng=np.random.default_rng(seed), **options)
    interval = result.confidence_interval
    z0, accel = 0.0, 0.0
    if not np.isfinite([interval.low, interval.high]).all():  # BCa undefined: no spread in the jackknife
        interval = bootstrap((a, b), _mean_difference, method="percentile", bootstrap_result=result,
                             **(options | {"n_resamples": 0})).confidence_interval
    elif method == "bca":
        z0, accel = _bias_and_acceleration(result.bootstrap_distribution, estimate, differences)
    return PairedBootstrapResult(difference=estimate, ci_low=float(interval.low), ci_high=float(interval.high),
                                 confidence=confidence, method=method, n_boot=n_boot,
                                 p_value=_p_value(result.bootstrap_distribution, z0, accel),
                                 n_pairs=int(differences.size), n_dropped=n_dropped)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a - b, axis=axis)

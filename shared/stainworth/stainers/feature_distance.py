"""Distances between the per-nucleus feature distributions of a virtual stain and the real fluorescence.

Pixel metrics compare images one by one; a downstream task reads *distributions* of nuclei. Here
every nucleus of the test split (a connected component of the item's mask) is described by
intensity and texture features of the stain inside it (:data:`FEATURES`), computed the same way on
the virtual and on the real image, and the two sets of feature vectors are compared as
distributions, as FID and KID compare deep-network features (Heusel et al. 2017 [1]_; Bińkowski
et al. 2018 [2]_):

- **Fréchet distance**: ``|μv − μr|² + Tr(Σv + Σr − 2 (Σv Σr)^½)`` between Gaussian fits, after
  standardising every feature by the real nuclei's mean and SD (so features of different units
  weigh alike, and the distance is in units of the real spread);
- **kernel distance**: the unbiased squared maximum mean discrepancy with the cubic polynomial
  kernel ``k(a, b) = (a·b / d + 1)³`` on the same standardised features (KID, the U-statistic of
  Gretton et al. 2012 [3]_); it has no bias from the sample size and is near 0 for equal
  distributions (it can be slightly negative).

Uncertainty comes from a bootstrap over nuclei, resampling (virtual, real) pairs together (each
nucleus is measured in both) and standardising every draw again by its own real nuclei. Both
statistics need care, shown by simulation (``tests/stainers/test_feature_distance.py``):

- the plug-in Fréchet distance is biased upwards by the noise of the two covariance estimates,
  more so the more features per nucleus (simulated, n = 400, equal distributions: 0.02, 0.20 and
  0.73 instead of 0 for d = 4, 16 and 32), so the
  reported ``estimate`` is the bootstrap bias-corrected ``2 F − mean(F*)`` (clipped at 0; the
  plug-in ``F`` is kept as ``plug_in``), and the interval is that estimate ± z · SD(F*), clipped
  at 0. The plain percentile interval of F* covered the true distance in none of the simulated
  cases at d ≥ 16;
- a bootstrap draw repeats nuclei, and a pair of copies of one nucleus adds its own positive
  ``k(v, v) + k(r, r) − 2 k(v, r)`` to the U-statistic: the draws are therefore computed over
  pairs of *distinct* nuclei (the copies weigh by their counts), which keeps them centred on the
  unbiased estimate; the interval is their percentile interval (the draws are skewed when a few
  nuclei are far off, and a symmetric interval would then reach below any plausible value).
  Resampled naively, the interval held 0 for two samples of one distribution in 21% of simulated
  cases.

Identical distributions give 0 for both distances; a shift of δ real SDs in one feature gives a
Fréchet distance of about δ².

References
----------
.. [1] Heusel M, Ramsauer H, Unterthiner T, Nessler B, Hochreiter S (2017). GANs trained by a two
       time-scale update rule converge to a local Nash equilibrium. NeurIPS. arXiv:1706.08500
.. [2] Bińkowski M, Sutherland DJ, Arbel M, Gretton A (2018). Demystifying MMD GANs. ICLR.
       arXiv:1801.01401
.. [3] Gretton A, Borgwardt KM, Rasch MJ, Schölkopf B, Smola A (2012). A kernel two-sample test.
       J. Mach. Learn. Res. 13:723-773.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats
from skimage.measure import label as connected_components

from stainworth.errors import InputDataError

FEATURES = ("mean", "sd", "p10", "median", "p90", "skewness", "kurtosis", "rim_to_core", "gradient")
"""Per-nucleus features of the stain inside the nucleus: intensity statistics, the ratio of the mean
intensity in the outer third of the nucleus (by distance to its edge) to the inner two thirds (a
nuclear rim, as Lamin A/C, against a filled nucleus), and the mean gradient magnitude (texture)."""
MIN_PIXELS = 16
"""Nuclei with fewer pixels are left out (their statistics are noise)."""


@dataclass(frozen=True)
class FeatureDistance:
    """One distance between two feature distributions, with its bootstrap interval."""

    estimate: float
    """Bias-corrected for the Fréchet distance (see the module docstring); the U-statistic for the kernel one."""
    ci_low: float
    ci_high: float
    n: int
    """Nuclei measured in both images."""
    method: str
    plug_in: float = float("nan")
    """The distance computed once from all nuclei, before any bias correction."""


def nucleus_features(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(n_nuclei, len(FEATURES)) features of every nucleus (connected component of each mask).

    Parameters
    ----------
    images, masks
        (N, H, W) stains and nucleus masks (non-zero inside), of one shape.
    """
    from scipy.ndimage import distance_transform_edt, sobel

    images, masks = np.asarray(images, np.float64), np.asarray(masks)
    if images.shape != masks.shape or images.ndim != 3:
        raise InputDataError(f"nucleus features: images of shape {images.shape} and masks of shape {masks.shape}; "
                             "expected (N, H, W) of one shape")
    rows = []
    for image, mask in zip(images, masks, strict=True):
        gradient = np.hypot(sobel(image, axis=0), sobel(image, axis=1))
        labels = connected_components(mask > 0)
        for component in range(1, int(labels.max()) + 1):
            inside = labels == component
            values = image[inside]
            if values.size < MIN_PIXELS:
                continue
            depth = distance_transform_edt(inside)[inside]
            rim = depth <= np.percentile(depth, 100 / 3)
            core = values[~rim].mean() if (~rim).any() else values.mean()
            spread = values.std()
            rows.append([values.mean(), spread, *np.percentile(values, [10, 50, 90]),
                         stats.skew(values) if spread > 0 else 0.0, stats.kurtosis(values) if spread > 0 else 0.0,
                         values[rim].mean() / core if core != 0 else 0.0, gradient[inside].mean()])
    return np.asarray(rows, np.float64).reshape(-1, len(FEATURES))


def _standardised(virtual: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre, scale = real.mean(axis=0), real.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (virtual - centre) / scale, (real - centre) / scale


def frechet_distance(virtual: np.ndarray, real: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two (n, d) feature sets (already standardised)."""
    mean_v, mean_r = virtual.mean(axis=0), real.mean(axis=0)
    cov_v, cov_r = np.atleast_2d(np.cov(virtual, rowvar=False)), np.atleast_2d(np.cov(real, rowvar=False))
    root = linalg.sqrtm(cov_v @ cov_r)
    root = np.real(root)
    value = float(np.sum((mean_v - mean_r) ** 2) + np.trace(cov_v + cov_r - 2 * root))
    return max(value, 0.0)


def kernel_distance(virtual: np.ndarray, real: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel between two paired (n, d) feature sets.

    The U-statistic over pairs of nuclei ``i != j`` of ``k(v_i, v_j) + k(r_i, r_j) - k(v_i, r_j) -
    k(v_j, r_i)`` (Gretton et al. 2012, Lemma 6): unbiased for equal sample sizes, and exactly 0
    when the two sets are identical.
    """
    return _mmd(_pair_kernel(virtual, real))


def _pair_kernel(virtual: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``h[i, j] = k(v_i, v_j) + k(r_i, r_j) - k(v_i, r_j) - k(v_j, r_i)`` for the cubic kernel."""
    d = virtual.shape[1]
    cross = (virtual @ real.T / d + 1) ** 3
    return (virtual @ virtual.T / d + 1) ** 3 + (real @ real.T / d + 1) ** 3 - cross - cross.T


def _mmd(h: np.ndarray) -> float:
    n = len(h)
    return float((h.sum() - np.trace(h)) / (n * (n - 1)))


def _distinct_pairs_mmd(virtual: np.ndarray, real: np.ndarray, draw: np.ndarray) -> float:
    """The U-statistic of a bootstrap draw over pairs of distinct nuclei, copies weighted by their counts."""
    _, first, counts = np.unique(draw, return_index=True, return_counts=True)
    h = _pair_kernel(virtual[first], real[first])
    weights = counts.astype(np.float64)
    pairs = weights.sum() ** 2 - np.sum(weights**2)
    return float((weights @ h @ weights - np.sum(weights**2 * np.diag(h))) / pairs) if pairs > 0 else 0.0


def feature_distances(virtual: np.ndarray, real: np.ndarray, *, n_boot: int = 200, seed: int = 0,
                      confidence: float = 0.95) -> dict[str, FeatureDistance]:
    """Fréchet and kernel distances of paired (n, d) feature sets, with bootstrap intervals (module docstring).

    Raises
    ------
    InputDataError
        Different numbers of nuclei, or fewer than 3 (no covariance).
    """
    virtual, real = np.asarray(virtual, np.float64), np.asarray(real, np.float64)
    if virtual.shape != real.shape or len(real) < 3:
        raise InputDataError(f"feature distances: feature sets of shapes {virtual.shape} and {real.shape}; expected "
                             "the same nuclei in both, at least 3")
    v, r = _standardised(virtual, real)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(r), size=(n_boot, len(r)))
    frechet_draws, kernel_draws = [], []
    for draw in draws:
        dv, dr = _standardised(virtual[draw], real[draw])  # every draw standardised by its own real nuclei
        frechet_draws.append(frechet_distance(dv, dr))
        kernel_draws.append(_distinct_pairs_mmd(dv, dr, draw))
    z = float(stats.norm.ppf((1 + confidence) / 2))
    note = (f"on nuclei standardised by the real ones; bootstrap over nuclei ({n_boot} draws, each standardised "
            "again)")
    plug_in = frechet_distance(v, r)
    boot = np.asarray(frechet_draws)
    corrected = max(2 * plug_in - float(boot.mean()), 0.0)
    spread = float(boot.std(ddof=1))
    kernel = kernel_distance(v, r)
    tail = (1 - confidence) / 2 * 100
    kernel_low, kernel_high = (float(value) for value in np.percentile(kernel_draws, [tail, 100 - tail]))
    return {"frechet": FeatureDistance(corrected, max(corrected - z * spread, 0.0), corrected + z * spread, len(r),
                                       f"Fréchet distance, bootstrap bias-corrected, normal interval, {note}",
                                       plug_in),
            "kernel": FeatureDistance(kernel, kernel_low, kernel_high, len(r),
                                      f"kernel distance (unbiased), percentile interval of distinct-pair draws, {note}",
                                      kernel)}

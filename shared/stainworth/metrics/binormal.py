"""Binormal ROC curve fitted by maximum likelihood, as Metz's ROCKIT/LABROC4 software does.

Model (Dorfman & Alf [1]_): a latent decision variable is N(0, 1) for negative cases and
N(a/b, 1/b^2) for positive cases; thresholds ``z_1 < ... < z_{K-1}`` cut it into K ordered
categories, ``P(negative in k) = Phi(z_k) - Phi(z_{k-1})``, ``P(positive in k) = Phi(b z_k - a)
- Phi(b z_{k-1} - a)``. The ROC curve is ``TPF = Phi(a + b Phi^-1(FPF))``, its area
``AUC = Phi(a / sqrt(1 + b^2))``. a, b and the thresholds are estimated jointly by maximising
this ordinal-probit likelihood (trust-region Newton with the analytic gradient and Hessian;
thresholds kept ordered by a log-increment parametrisation; started from a straight-line fit
to the empirical ROC points in probit space).

Continuous scores are categorised as LABROC does [2]_: the cases are sorted by score and each
run of consecutive cases of one truth state becomes one category (equal scores share a
category; a score held by both classes is a category of its own), so there are at most
(number of runs - 1) thresholds; collapsing a run loses no information about a and b. To bound
the cost for thousands of cases, above ``max_categories`` (default 64) categories adjacent runs
are merged at evenly spaced quantiles of the run boundaries (the first and last are kept).

Uncertainty: the covariance of (a, b) is their block of the inverse observed information (the
negative Hessian of the log-likelihood in a, b and all thresholds); the standard error of the
AUC follows by the delta method. The confidence interval is ``z +- q se(z)`` for the probit of
the AUC, ``z = a / sqrt(1 + b^2)``, mapped back through Phi: asymmetric and inside [0, 1].

Degenerate data: when every empirical operating point lies on the border of the ROC square (all
scores equal, perfectly separated classes, ...), when there is a single threshold, or when the
fit runs off to an extreme slope or a singular information matrix, the binormal ML estimate does
not exist or is not identified (Metz's programs report such data sets as degenerate).
:func:`fit_binormal` then returns ``degenerate=True``, the reason in ``note``, the empirical AUC
in ``auc`` and NaN for ``a``, ``b``, ``se`` and the interval.

References
----------
.. [1] Dorfman, D. D. & Alf, E. Maximum-likelihood estimation of parameters of signal-detection
   theory and determination of confidence intervals -- rating-method data. J. Math. Psychol. 6,
   487-496 (1969). doi:10.1016/0022-2496(69)90019-4
.. [2] Metz, C. E., Herman, B. A. & Shen, J.-H. Maximum likelihood estimation of receiver
   operating characteristic (ROC) curves from continuously-distributed data. Stat. Med. 17,
   1033-1053 (1998). doi:10.1002/(SICI)1097-0258(19980515)17:9<1033::AID-SIM784>3.0.CO;2-Z
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import ndtr, ndtri
from threadpoolctl import threadpool_limits

from stainworth.errors import InputDataError
from stainworth.metrics.roc import check_roc_inputs, confidence_quantile, empirical_auc

DEFAULT_MAX_CATEGORIES = 64
B_RANGE = (1e-2, 1e2)
GTOL_ACCEPT = 1e-6
_TINY = 1e-100


@dataclass(frozen=True)
class BinormalFit:
    """Maximum-likelihood binormal ROC fit; see the module docstring for degenerate data."""

    a: float
    b: float
    auc: float
    se: float
    ci_low: float
    ci_high: float
    n_categories: int
    converged: bool
    degenerate: bool
    note: str


def labroc_categories(
    scores: ArrayLike, labels: ArrayLike, *, max_categories: int | None = DEFAULT_MAX_CATEGORIES
) -> tuple[np.ndarray, np.ndarray]:
    """Categorise continuous scores by truth-state runs (LABROC), optionally capping the count.

    Parameters
    ----------
    scores
        (N,) finite scores, higher meaning "more likely positive".
    labels
        (N,) truth, 1 = positive, 0 = negative; at least 2 cases of each.
    max_categories
        Above this many categories, merge adjacent runs at evenly spaced quantiles of the run
        boundaries (keeping the first and last) down to exactly this many; None keeps every run.
        At least 2.

    Returns
    -------
    negatives, positives : numpy.ndarray
        (K,) counts of negative and positive cases per category, in increasing score order.

    Raises
    ------
    InputDataError
        If the inputs fail :func:`~stainworth.metrics.roc.check_roc_inputs` or
        ``max_categories`` is below 2.
    """
    if max_categories is not None and max_categories < 2:
        raise InputDataError(f"max_categories: found {max_categories}; expected None or an integer of at least 2")
    x, positive = check_roc_inputs(scores, labels)
    _, inverse = np.unique(x, return_inverse=True)
    pos = np.bincount(inverse, weights=positive)
    neg = np.bincount(inverse) - pos
    kind = np.where(pos == 0, 0, np.where(neg == 0, 1, 2))
    starts = np.r_[True, (kind[1:] != kind[:-1]) | (kind[1:] == 2)]
    category = np.cumsum(starts) - 1
    neg, pos = np.bincount(category, weights=neg), np.bincount(category, weights=pos)
    if max_categories is not None and neg.size > max_categories:
        cuts = np.round(np.linspace(0, neg.size - 2, max_categories - 1)).astype(int)
        merged = np.searchsorted(cuts, np.arange(neg.size), side="left")
        neg, pos = np.bincount(merged, weights=neg), np.bincount(merged, weights=pos)
    return neg, pos


def _operating_points(neg: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive fractions at each category boundary (score above it)."""
    fpf = np.cumsum(neg[::-1])[::-1][1:] / neg.sum()
    tpf = np.cumsum(pos[::-1])[::-1][1:] / pos.sum()
    return fpf, tpf


def _start(neg: np.ndarray, pos: np.ndarray, auc: float) -> np.ndarray:
    """Starting (a, log b, z_1, log increments) from the empirical ROC points in probit space."""
    fpf, tpf = _operating_points(neg, pos)
    inside = (fpf > 0) & (fpf < 1) & (tpf > 0) & (tpf < 1)
    b = 1.0
    if np.unique(fpf[inside]).size >= 2:
        b = float(np.clip(np.polyfit(ndtri(fpf[inside]), ndtri(tpf[inside]), 1)[0], 0.2, 5.0))
    a = float(ndtri(np.clip(auc, 0.01, 0.99)) * np.hypot(1.0, b))
    z = -ndtri(np.clip(fpf, 0.5 / neg.sum(), 1 - 0.5 / neg.sum()))
    from_tpf = (a - ndtri(np.clip(tpf, 1e-12, 1 - 1e-12))) / b
    z = np.where((fpf > 0) & (fpf < 1), z, np.where((tpf > 0) & (tpf < 1), from_tpf, z))
    steps = np.maximum(np.diff(np.sort(z)), 1e-2)
    return np.r_[a, np.log(b), np.min(z), np.log(steps)]


def _natural(theta: np.ndarray) -> np.ndarray:
    """(a, log b, z_1, log increments) -> (a, b, z_1, ..., z_{K-1})."""
    return np.r_[theta[0], np.exp(theta[1]), theta[2] + np.r_[0.0, np.cumsum(np.exp(theta[3:]))]]


def _pdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal density (without scipy.stats' per-call overhead)."""
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _cell_probabilities(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Phi(upper) - Phi(lower), computed on the side of the tail that keeps precision."""
    right = lower > 0
    return np.maximum(np.where(right, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower)), _TINY)


def _derivatives(phi: np.ndarray, neg: np.ndarray, pos: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and Hessian in the natural parameters (a, b, z_1..z_{K-1})."""
    a, b, z = phi[0], phi[1], phi[2:]
    size, n_cut = phi.size, z.size
    u = b * z - a
    cut_columns = np.arange(n_cut) + 2
    loglik, grad, hess = 0.0, np.zeros(size), np.zeros((size, size))
    d_neg = np.zeros((n_cut, size))
    d_neg[np.arange(n_cut), cut_columns] = 1.0
    d_pos = np.zeros((n_cut, size))
    d_pos[:, 0], d_pos[:, 1], d_pos[np.arange(n_cut), cut_columns] = -1.0, z, b
    for counts, t, d_t, cross in ((neg, z, d_neg, 0.0), (pos, u, d_pos, 1.0)):
        prob = _cell_probabilities(np.r_[-np.inf, t], np.r_[t, np.inf])
        loglik += float(np.sum(counts * np.log(prob)))
        density = _pdf(t)
        slope = density[:, None] * d_t
        d_prob = np.vstack([slope, np.zeros(size)]) - np.vstack([np.zeros(size), slope])
        weight = counts / prob
        grad += d_prob.T @ weight
        q = weight[:-1] - weight[1:]
        hess += d_t.T @ ((q * -t * density)[:, None] * d_t) - d_prob.T @ ((counts / prob**2)[:, None] * d_prob)
        mixed = cross * q * density
        hess[1, cut_columns] += mixed
        hess[cut_columns, 1] += mixed
    return loglik, grad, hess


def _objective(theta: np.ndarray, neg: np.ndarray, pos: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Negative mean log-likelihood, gradient and Hessian in the unconstrained parameters."""
    phi = _natural(theta)
    loglik, grad, hess = _derivatives(phi, neg, pos)
    size = theta.size
    jac = np.zeros((size, size))
    jac[0, 0], jac[1, 1] = 1.0, phi[1]
    jac[2:, 2] = 1.0
    steps = np.exp(theta[3:])
    jac[2:, 3:] = np.tril(np.ones((size - 2, size - 3)), -1) * steps
    curvature = np.r_[0.0, phi[1] * grad[1], 0.0, steps * np.cumsum(grad[:2:-1])[::-1]]
    scale = -1.0 / (neg.sum() + pos.sum())
    return scale * loglik, scale * (jac.T @ grad), scale * (jac.T @ hess @ jac + np.diag(curvature))


def _degenerate(auc: float, n_categories: int, why: str) -> BinormalFit:
    nan = float("nan")
    return BinormalFit(nan, nan, auc, nan, nan, nan, n_categories, False, True, f"{why}; reporting the empirical AUC")


def _degeneracy(neg: np.ndarray, pos: np.ndarray) -> str:
    """Why the binormal ML fit does not exist for these categories ('' if it may)."""
    if neg.size == 1:
        return "all scores are equal (one category)"
    fpf, tpf = _operating_points(neg, pos)
    if not np.any((fpf > 0) & (fpf < 1) & (tpf > 0) & (tpf < 1)):
        if neg.size == 2 and (neg[1] == 0 or pos[1] == 0):
            return "the classes are perfectly separated"
        return "every empirical ROC point lies on the border of the ROC square"
    return "only one threshold: a and b are not identifiable" if neg.size == 2 else ""


def fit_binormal(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    max_categories: int | None = DEFAULT_MAX_CATEGORIES,
    confidence: float = 0.95,
) -> BinormalFit:
    """Fit the binormal ROC model by maximum likelihood to continuous scores (LABROC-style).

    Parameters
    ----------
    scores
        (N,) finite scores, higher meaning "more likely positive".
    labels
        (N,) truth, 1 = positive, 0 = negative; at least 2 cases of each.
    max_categories
        Cap on the number of LABROC categories (see :func:`labroc_categories`); None for no cap.
    confidence
        Coverage of the interval, in (0, 1).

    Returns
    -------
    BinormalFit
        ``a``, ``b``, ``auc = Phi(a / sqrt(1 + b^2))``, its delta-method ``se``, the probit-scale
        interval ``ci_low``/``ci_high``, ``n_categories`` used, ``converged``; for degenerate data
        ``degenerate=True``, the reason in ``note``, the empirical AUC and NaN elsewhere.

    Raises
    ------
    InputDataError
        If the inputs fail :func:`~stainworth.metrics.roc.check_roc_inputs`, ``max_categories``
        is below 2 or ``confidence`` is outside (0, 1).
    """
    q = confidence_quantile(confidence)
    neg, pos = labroc_categories(scores, labels, max_categories=max_categories)
    auc_emp = empirical_auc(scores, labels).auc
    reason = _degeneracy(neg, pos)
    if reason:
        return _degenerate(auc_emp, neg.size, reason)

    @lru_cache(maxsize=1)  # the optimiser asks for the value and the Hessian at each iterate
    def objective(key: bytes) -> tuple[float, np.ndarray, np.ndarray]:
        return _objective(np.frombuffer(key), neg, pos)

    with _single_blas_thread():
        result = minimize(
            lambda t: objective(t.tobytes())[:2], _start(neg, pos, auc_emp), jac=True,
            hess=lambda t: objective(t.tobytes())[2], method="trust-exact", options={"gtol": 1e-8, "maxiter": 200},
        )
        phi = _natural(result.x)
        a, b = float(phi[0]), float(phi[1])
        if not (B_RANGE[0] <= b <= B_RANGE[1] and np.isfinite(a)):
            return _degenerate(auc_emp, neg.size, f"the fit ran off to a = {a:.3g}, b = {b:.3g}")
        var_z = _variance_of_z(phi, neg, pos)
    if not var_z > 0:
        return _degenerate(auc_emp, neg.size, "the information matrix is singular")
    z, se_z = a / np.hypot(1.0, b), np.sqrt(var_z)
    converged = bool(result.success) or float(np.max(np.abs(result.jac))) < GTOL_ACCEPT
    note = "" if converged else f"the optimiser stopped without converging: {result.message}"
    return BinormalFit(
        a, b, float(ndtr(z)), float(_pdf(z) * se_z), float(ndtr(z - q * se_z)), float(ndtr(z + q * se_z)),
        neg.size, converged, False, note,
    )


def _single_blas_thread() -> AbstractContextManager[object]:
    """Limit BLAS to one thread: the matrices are small and threads only contend on a busy host."""
    return threadpool_limits(limits=1, user_api="blas")


def _variance_of_z(phi: np.ndarray, neg: np.ndarray, pos: np.ndarray) -> float:
    """Delta-method variance of z = a / sqrt(1 + b^2) from the inverse observed information (NaN if singular)."""
    a, b = phi[0], phi[1]
    _, _, hess = _derivatives(phi, neg, pos)
    root = np.hypot(1.0, b)
    gradient = np.array([1.0 / root, -a * b / root**3])
    try:
        cov = np.linalg.inv(-hess)[:2, :2]
    except np.linalg.LinAlgError:
        return float("nan")
    return float(gradient @ cov @ gradient)

"""Empirical (nonparametric) ROC area, its DeLong standard error and the paired DeLong test.

Conventions: label 1 marks a positive ("actually positive", e.g. treated) case, label 0 a
negative one, and a higher score means "more likely positive". The empirical AUC is the
Mann-Whitney U statistic divided by ``n_pos * n_neg``: the fraction of (positive, negative)
pairs in which the positive case scores higher, a tie counting 1/2 [1]_. It equals the
trapezoidal area under the empirical ROC curve.

Its variance is DeLong's estimate from the structural components [2]_: for each positive case
``V10`` is the fraction of negatives it beats, for each negative case ``V01`` the fraction of
positives that beat it (ties 1/2), and ``var = var(V10) / n_pos + var(V01) / n_neg`` (sample
variances). The components are computed in O(n log n) from midranks [3]_. Two score sets on the
same cases have correlated AUCs; their covariance follows in the same way, which gives the paired
test of :func:`delong_test`.

The confidence interval of one AUC is a Wald interval on the logit scale,
``expit(logit(auc) +- q * se / (auc (1 - auc)))`` with ``q`` the normal quantile, so it stays
inside [0, 1]. When every ``V10`` and every ``V01`` is the same (perfect separation, AUC 0 or 1,
or all scores tied) DeLong's ``se`` is 0 and the interval collapses to the point estimate; such
data carry no variance information, and :class:`AucEstimate` says so in its ``note``.

:func:`delong_covariance` gives the AUCs of k score sets on the same cases and their DeLong
covariance matrix, the test-sampling covariance that :mod:`stainworth.metrics.replicates` combines
across retrained networks. When the variance of a paired difference is 0 (e.g. a perfect scorer
against a constant one), :func:`delong_test` does not report ``p = 0``: its p-value then comes from a
sign-flip permutation test of the paired scores [4]_ (exact for up to :data:`EXACT_PERMUTATION_CASES`
cases, else Monte Carlo with ``(count + 1) / (n + 1)``), and ``method`` and ``note`` say so.

References
----------
.. [1] Hanley, J. A. & McNeil, B. J. The meaning and use of the area under a receiver operating
   characteristic (ROC) curve. Radiology 143, 29-36 (1982). doi:10.1148/radiology.143.1.7063747
.. [2] DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. Comparing the areas under two or
   more correlated receiver operating characteristic curves: a nonparametric approach.
   Biometrics 44, 837-845 (1988). doi:10.2307/2531595
.. [3] Sun, X. & Xu, W. Fast implementation of DeLong's algorithm for comparing the areas under
   correlated receiver operating characteristic curves. IEEE Signal Process. Lett. 21,
   1389-1393 (2014). doi:10.1109/LSP.2014.2337313
.. [4] Good, P. Permutation, Parametric, and Bootstrap Tests of Hypotheses, 3rd ed., sec. 3.6
   (Springer, 2005). doi:10.1007/b138696; Phipson, B. & Smyth, G. K. Permutation p-values should
   never be zero. Stat. Appl. Genet. Mol. Biol. 9, 39 (2010). doi:10.2202/1544-6115.1585
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logit
from scipy.stats import norm, rankdata

from stainworth.errors import InputDataError

EXACT_PERMUTATION_CASES = 16
"""Up to this many cases the sign-flip permutation test enumerates all 2^N assignments."""
ZERO_SE_NOTE = ("DeLong's se is 0 (perfect separation or all scores tied): the data carry no variance "
                "information and the interval is the point")


@dataclass(frozen=True)
class AucEstimate:
    """Empirical AUC with its DeLong standard error and a logit-scale confidence interval.

    ``note`` is empty, or says why the interval is not informative (DeLong's se is 0).
    """

    auc: float
    se: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    note: str = ""


@dataclass(frozen=True)
class AucCovariance:
    """AUCs of k score sets on the same cases and their DeLong covariance.

    Attributes
    ----------
    aucs : numpy.ndarray
        (k,) empirical AUCs.
    covariance : numpy.ndarray
        (k, k) DeLong covariance of the AUCs (test-sampling covariance: the same cases).
    n_pos, n_neg : int
        Positive and negative cases.
    """

    aucs: np.ndarray
    covariance: np.ndarray
    n_pos: int
    n_neg: int


@dataclass(frozen=True)
class PairedAucComparison:
    """DeLong comparison of two AUCs measured on the same cases (``difference = auc_a - auc_b``).

    ``method`` is ``"DeLong"``, or names the permutation test that gave ``p_value`` when DeLong's
    se of the difference is 0 (``se``, ``z`` and the interval are then NaN and ``note`` says why).
    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    method: str = "DeLong"
    note: str = ""


def _as_1d_float(values: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputDataError(f"{name}: found non-numeric values; expected numbers") from None
    if array.ndim != 1:
        raise InputDataError(f"{name}: found an array of shape {array.shape}; expected a 1-D array, one per case")
    return array


def _check_labels(labels: np.ndarray) -> None:
    bad = np.unique(labels[(labels != 0) & (labels != 1)])
    if bad.size:
        shown = ", ".join(f"{value:g}" for value in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise InputDataError(f"labels: found values {shown}; expected only 0 and 1")
    n_pos = int(labels.sum())
    counts = {0: labels.size - n_pos, 1: n_pos}
    present = [cls for cls, count in counts.items() if count]
    if len(present) < 2:
        found = f"only class {present[0]} ({counts[present[0]]} cases)" if present else "no cases"
        raise InputDataError(f"labels: found {found}; expected both 0 and 1")
    for cls, count in counts.items():
        if count < 2:
            raise InputDataError(f"labels: found {count} case of class {cls}; expected at least 2 cases of each class")


def check_roc_inputs(scores: ArrayLike, labels: ArrayLike, *, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """Validate one score per case and binary labels; return them as arrays.

    Parameters
    ----------
    scores
        (N,) finite scores, higher meaning "more likely positive".
    labels
        (N,) truth, 1 = positive, 0 = negative (bool or numbers).
    name
        Name of the score argument used in error messages.

    Returns
    -------
    scores : numpy.ndarray
        (N,) float64 scores.
    labels : numpy.ndarray
        (N,) bool, True for positive cases.

    Raises
    ------
    InputDataError
        If the arrays are not 1-D numbers of the same length, a label is not 0 or 1, a score is
        NaN or infinite, or a class has fewer than 2 cases.
    """
    x = _as_1d_float(scores, name)
    y = _as_1d_float(labels, "labels")
    if x.size != y.size:
        raise InputDataError(f"{name}: found {x.size} values for {y.size} labels; expected one score per label")
    _check_labels(y)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InputDataError(
            f"{name}: found {bad.size} non-finite value{'s' * (bad.size > 1)} (NaN or Inf), first at index {bad[0]}; "
            "expected finite numbers"
        )
    return x, y == 1


def roc_curve(scores: ArrayLike, labels: ArrayLike, *, max_points: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical ROC operating points, from (0, 0) to (1, 1).

    The points are :func:`sklearn.metrics.roc_curve` with ``drop_intermediate=False`` (one per
    distinct score), except the first threshold: scikit-learn's is infinite, this one is the
    next float above the highest score, so that every threshold is finite (JSON, KFP metadata).
    scikit-learn is imported on the first call (its import takes about 0.5 s).

    Parameters
    ----------
    scores, labels
        As :func:`check_roc_inputs`.
    max_points
        Keep at most this many points (evenly spaced along the curve, both ends kept); ``None``:
        every distinct score.

    Returns
    -------
    fpr, tpr : numpy.ndarray
        False and true positive rates when calling positive every case scoring at least the threshold.
    thresholds : numpy.ndarray
        The thresholds, decreasing; the first lies just above the highest score (nothing called positive).
    """
    from sklearn.metrics import roc_curve as sklearn_roc_curve

    x, positive = check_roc_inputs(scores, labels)
    fpr, tpr, thresholds = sklearn_roc_curve(positive, x, drop_intermediate=False)
    thresholds[0] = np.nextafter(thresholds[1], np.inf)
    if max_points is not None and fpr.size > max_points:
        if max_points < 2:
            raise InputDataError(f"max_points: found {max_points}; expected at least 2 (both ends of the curve)")
        keep = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    return fpr, tpr, thresholds


def confidence_quantile(confidence: float) -> float:
    """Normal quantile ``q`` of a two-sided interval of this coverage (1.96 for 0.95).

    Parameters
    ----------
    confidence
        Coverage, strictly between 0 and 1.

    Returns
    -------
    float
        ``Phi^-1((1 + confidence) / 2)``.

    Raises
    ------
    InputDataError
        If ``confidence`` is not strictly between 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise InputDataError(f"confidence: found {confidence}; expected a value strictly between 0 and 1")
    return float(norm.ppf(0.5 + confidence / 2.0))


def _delong(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their DeLong covariance (k, k) for a (k, N) stack of score sets."""
    pos, neg = scores[:, positive], scores[:, ~positive]
    m, n = pos.shape[1], neg.shape[1]
    tz = rankdata(np.hstack([pos, neg]), axis=1)
    v10 = (tz[:, :m] - rankdata(pos, axis=1)) / n
    v01 = 1.0 - (tz[:, m:] - rankdata(neg, axis=1)) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return v10.mean(axis=1), cov


def delong_covariance(score_sets: ArrayLike, labels: ArrayLike) -> AucCovariance:
    """Empirical AUCs of k score sets on the same cases and their DeLong covariance matrix.

    Parameters
    ----------
    score_sets
        (k, N) finite scores: k readers or models scoring the same N cases, in the same order.
    labels
        (N,) truth, 1 = positive, 0 = negative; at least 2 cases of each.

    Returns
    -------
    AucCovariance
        ``aucs`` (k,), ``covariance`` (k, k) from the structural components (DeLong et al.
        1988; O(k N log N) as Sun & Xu 2014), ``n_pos``, ``n_neg``.

    Raises
    ------
    InputDataError
        If ``score_sets`` is not a non-empty (k, N) array of finite numbers matching the labels,
        or the labels fail :func:`check_roc_inputs`.

    Examples
    --------
    >>> result = delong_covariance([[0.1, 0.4, 0.35, 0.8], [0.2, 0.1, 0.5, 0.6]], [0, 0, 1, 1])
    >>> result.aucs.tolist()
    [0.75, 1.0]
    """
    try:
        stack = np.asarray(score_sets, dtype=float)
    except (TypeError, ValueError):
        raise InputDataError("score_sets: found non-numeric values; expected numbers") from None
    if stack.ndim != 2 or stack.shape[0] == 0:
        raise InputDataError(f"score_sets: found an array of shape {stack.shape}; expected (k, N): k >= 1 score "
                             "sets of the same N cases")
    _, positive = check_roc_inputs(stack[0], labels, name="score_sets[0]")
    for index in range(1, stack.shape[0]):
        check_roc_inputs(stack[index], labels, name=f"score_sets[{index}]")
    aucs, cov = _delong(stack, positive)
    n_pos = int(positive.sum())
    return AucCovariance(aucs, cov, n_pos, stack.shape[1] - n_pos)


def _aucs_of_rows(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Empirical AUC of every row of a (P, N) stack (midranks: ties count 1/2)."""
    m = int(positive.sum())
    n = positive.size - m
    ranks = rankdata(scores, axis=1)
    return (ranks[:, positive].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)


@dataclass(frozen=True)
class PermutationTest:
    """Two-sided sign-flip permutation test of ``auc_a - auc_b`` (see :func:`sign_flip_p_value`)."""

    p_value: float
    method: str
    """E.g. ``"sign-flip permutation (exact, 4096 assignments)"``."""
    assignments: int
    """Assignments evaluated (all 2^N, or the random ones)."""
    exact: bool


def sign_flip_p_value(scores_a: np.ndarray, scores_b: np.ndarray, positive: np.ndarray, *,
                      n_permutations: int = 9999, seed: int = 0) -> PermutationTest:
    """Two-sided p-value of ``auc_a - auc_b`` from swapping the two scores of each case at random.

    Under the null hypothesis that the two score sets are exchangeable case by case, swapping
    ``a_i`` and ``b_i`` does not change the distribution of the difference. Up to
    :data:`EXACT_PERMUTATION_CASES` cases all 2^N assignments are enumerated and
    ``p = #{|d*| >= |d|} / 2^N`` (the identity included); above, ``n_permutations`` random
    assignments give ``p = (#{|d*| >= |d|} + 1) / (n_permutations + 1)``, never 0.

    Parameters
    ----------
    scores_a, scores_b : numpy.ndarray
        (N,) scores of the same cases.
    positive : numpy.ndarray
        (N,) bool, True for positive cases.
    n_permutations : int, optional
        Random assignments when N is above the exact limit (default 9999).
    seed : int, optional
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    PermutationTest
        ``p_value`` (two-sided), ``method`` (what was done, e.g. ``"sign-flip permutation (exact,
        4096 assignments)"``), ``assignments`` and ``exact``.
    """
    observed = abs(float(_aucs_of_rows(np.vstack([scores_a, scores_b]), positive) @ np.array([1.0, -1.0])))
    size = scores_a.size
    exact = size <= EXACT_PERMUTATION_CASES
    if exact:
        count_total = 1 << size
        swaps = ((np.arange(count_total)[:, None] >> np.arange(size)[None, :]) & 1).astype(bool)
    else:
        count_total = n_permutations
        swaps = np.random.default_rng(seed).random((n_permutations, size)) < 0.5
    hits = 0
    for start in range(0, count_total, 8192):
        block = swaps[start:start + 8192]
        a = np.where(block, scores_b, scores_a)
        b = np.where(block, scores_a, scores_b)
        differences = _aucs_of_rows(a, positive) - _aucs_of_rows(b, positive)
        hits += int(np.count_nonzero(np.abs(differences) >= observed - 1e-12))
    if exact:
        return PermutationTest(hits / count_total, f"sign-flip permutation (exact, {count_total} assignments)",
                               count_total, True)
    return PermutationTest((hits + 1) / (count_total + 1),
                           f"sign-flip permutation (Monte Carlo, {count_total} assignments)", count_total, False)


def empirical_auc(scores: ArrayLike, labels: ArrayLike, *, confidence: float = 0.95) -> AucEstimate:
    """Empirical AUC (Mann-Whitney) with DeLong's standard error and a logit-scale interval.

    Parameters
    ----------
    scores
        (N,) finite scores, higher meaning "more likely positive".
    labels
        (N,) truth, 1 = positive, 0 = negative; at least 2 cases of each.
    confidence
        Coverage of the interval, in (0, 1).

    Returns
    -------
    AucEstimate
        ``auc`` in [0, 1], ``se`` (DeLong), ``ci_low``/``ci_high`` (logit-scale Wald interval,
        inside [0, 1]; equal to ``auc`` when ``se`` is 0), ``n_pos``, ``n_neg`` and ``note``
        (empty, or :data:`ZERO_SE_NOTE` when ``se`` is 0: no variance information).

    Raises
    ------
    InputDataError
        If the inputs fail :func:`check_roc_inputs` or ``confidence`` is outside (0, 1).

    Examples
    --------
    >>> empirical_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).auc
    0.75
    """
    x, positive = check_roc_inputs(scores, labels)
    q = confidence_quantile(confidence)
    aucs, cov = _delong(x[None, :], positive)
    auc, se = float(aucs[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    note = ""
    if se > 0.0:
        half = q * se / (auc * (1.0 - auc))
        low, high = float(expit(logit(auc) - half)), float(expit(logit(auc) + half))
    else:
        low = high = auc
        note = ZERO_SE_NOTE
    n_pos = int(positive.sum())
    return AucEstimate(auc, se, low, high, n_pos, x.size - n_pos, note)


def delong_test(
    scores_a: ArrayLike, scores_b: ArrayLike, labels: ArrayLike, *, confidence: float = 0.95,
    n_permutations: int = 9999, seed: int = 0,
) -> PairedAucComparison:
    """Compare two AUCs measured on the same cases with DeLong's paired test.

    Parameters
    ----------
    scores_a, scores_b
        (N,) finite scores of two readers or models for the same N cases, in the same order.
    labels
        (N,) truth, 1 = positive, 0 = negative; at least 2 cases of each.
    confidence
        Coverage of the interval of the difference, in (0, 1).
    n_permutations, seed
        Random sign-flip assignments (and their seed) of the permutation test used when DeLong's
        se of the difference is 0 and there are more than :data:`EXACT_PERMUTATION_CASES` cases.

    Returns
    -------
    PairedAucComparison
        ``auc_a``, ``auc_b``, ``difference = auc_a - auc_b``, its ``se`` (from the DeLong
        covariance), ``z = difference / se``, the two-sided ``p_value`` and a Wald interval
        ``difference +- q * se`` (``ci_low``, ``ci_high``), ``method`` ``"DeLong"``. When
        DeLong's se is 0 (no variance information, e.g. identical score sets, or a perfect
        scorer against a constant one), ``se``, ``z`` and the interval are NaN, ``p_value`` comes
        from :func:`sign_flip_p_value` (never 0; 1 for identical score sets), and ``method`` and
        ``note`` say so.

    Raises
    ------
    InputDataError
        If either score set fails :func:`check_roc_inputs` or ``confidence`` is outside (0, 1).
    """
    a, positive = check_roc_inputs(scores_a, labels, name="scores_a")
    b, _ = check_roc_inputs(scores_b, labels, name="scores_b")
    q = confidence_quantile(confidence)
    aucs, cov = _delong(np.vstack([a, b]), positive)
    difference = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1], 0.0)))
    n_pos = int(positive.sum())
    if se > 0.0:
        z = difference / se
        return PairedAucComparison(float(aucs[0]), float(aucs[1]), difference, se, z, float(2.0 * norm.sf(abs(z))),
                                   difference - q * se, difference + q * se, n_pos, a.size - n_pos)
    test = sign_flip_p_value(a, b, positive, n_permutations=n_permutations, seed=seed)
    nan = float("nan")
    return PairedAucComparison(float(aucs[0]), float(aucs[1]), difference, nan, nan, test.p_value, nan, nan, n_pos,
                               a.size - n_pos, test.method, "DeLong's se of the difference is 0 (no variance "
                               f"information): p from a {test.method}; no interval")

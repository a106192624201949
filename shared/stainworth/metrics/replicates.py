"""Combining retrained networks ("replicates") tested on one shared test set, and Holm's correction.

A task network trained G times (different initialisation and batch order, or different training
subsets) gives one statistic per training, ``y_r`` (an AUC, a mean Dice, a paired difference
modality - label-free of training r, a per-training slope). Two sources of variation make the
``y_r`` differ from their expectation over trainings and test items: training (a fresh training
gives another network) and test-set sampling (another test set gives other scores). Because every
training is tested on the *same* test items, their test-sampling errors are correlated: an image
that is hard for one training is hard for the others. Treating the ``y_r`` as independent (as
``statsmodels``' ``combine_effects`` and other meta-analysis routines do, which assume independent
within-study errors) or using one training's test-only interval both give intervals that are too
narrow.

This is the multi-reader multi-case (MRMC) situation of diagnostic radiology, with trainings as
random readers and test items as random cases, and we combine the ``y_r`` as Obuchowski & Rockette
[1]_ with Hillis' degrees of freedom [2]_, [3]_. With S the (G, G) covariance matrix of the test
sampling errors of the ``y_r`` (estimated from the test items: DeLong's covariance for AUCs,
:func:`stainworth.metrics.roc.delong_covariance`; the covariance of per-image columns over n for
mean scores, :func:`mean_covariance`), V̄ its mean diagonal and C̄ its mean off-diagonal element
(set to ``max(C̄, 0)`` as Hillis does, ref. [2]_), and s²_y the sample variance of the ``y_r``:

- estimate ``ȳ = mean(y_r)``;
- training variance ``σ²_train = max(s²_y - V̄ + C̄, 0)`` (``E[s²_y] = σ²_train + V̄ - C̄``);
- ``SE² = σ²_train / G + se_test²`` with ``se_test² = V̄ / G + (G - 1) C̄ / G``, i.e.
  ``SE² = max(s²_y / G + C̄, se_test²)``;
- Satterthwaite degrees of freedom ``df = SE⁴ / ((s²_y / G)² / (G - 1))`` (Hillis' ddf), with the
  truncated SE when the training variance is truncated at 0 (the result's ``note`` then says so),
  so that df changes continuously across the truncation (∞ only when s²_y = 0). Setting df = ∞
  whenever the training variance is truncated, the other common choice, let paired differences
  cover in only 0.928 of simulated runs and called a null difference in 0.076 at a training SD of
  the AUC of 0.04 (``docs/statistics.md``), against 0.947 and 0.058 here;
- the interval ``ȳ ± t_{df} SE`` and the two-sided p-value of ``(ȳ - null) / SE`` on t_df.

G = 1: ``SE² = V`` (test-set sampling only), df = ∞, and ``note`` says that the interval covers
test-set sampling only. Nested trainings (``clusters``: training subsets, each trained several
times) are averaged within each cluster first; the clusters are then the G units, with S averaged
over the cluster blocks (``A S Aᵀ``, A the averaging matrix), so that the training part of the
variance includes the subset-to-subset variation.

Degrees of freedom for one modality's statistic. For a paired difference (stain - label-free of
each training) or a slope, the shared difficulty of the test items largely cancels, C̄ is small
next to s²_y / G, and the Satterthwaite df covers well. For one modality's AUC or mean Dice, C̄
(the shared difficulty) is large, and with G = 3 the plug-in df is often too large exactly when
s²_y is small by chance: 95 % intervals of an AUC covered in 0.935 and 0.912 of simulated runs at
training SDs of 0.04 and 0.12 (``docs/statistics.md``). ``df_method="replicates"`` uses G - 1
instead, the df of Obuchowski & Rockette's single-test interval (conservative: 0.998 and 0.960),
but it puts the t quantile of G - 1 df on the shared test-set part C̄ as well, which is estimated
from hundreds of test items: with training variance 0 its intervals are twice as wide as needed.
``df_method="components"`` gives each part of ``SE² = s²_y / G + C̄`` its own quantile, the t
quantile of G - 1 df for the part estimated from the G values and the normal one for C̄:
``half-width² = max(t²_{G-1} s²_y / G + z² C̄, z² se_test²)``. In the simulations of
``docs/statistics.md`` it covers 0.976 / 0.972 / 0.943 (AUC) and 0.972 / 0.953 / 0.947 (Dice) at
training SDs 0 / 0.04 / 0.12, with intervals 0.60 (AUC) and 0.56 (Dice) times as wide as those
of G - 1 df at SD 0; the evaluation tables use it for the figures of one modality. Its ``df`` is
the equivalent one, the t degrees of freedom whose quantile times SE gives that half-width (∞ when
the training variance is truncated), and its p-value is read on that t.

Multiplicity: :func:`holm` adjusts a family of p-values (Holm 1979 [4]_; the same numbers as
``statsmodels.stats.multitest.multipletests(method="holm")``, which is not a dependency here).

References
----------
.. [1] Obuchowski, N. A. & Rockette, H. E. Hypothesis testing of diagnostic accuracy for multiple
   readers and multiple tests: an ANOVA approach with dependent observations. Commun. Stat.
   Simul. Comput. 24, 285-308 (1995). doi:10.1080/03610919508813243
.. [2] Hillis, S. L. A comparison of denominator degrees of freedom methods for multiple observer
   ROC analysis. Stat. Med. 26, 596-619 (2007). doi:10.1002/sim.2532
.. [3] Hillis, S. L., Obuchowski, N. A. & Berbaum, K. S. Recent developments in the
   Dorfman-Berbaum-Metz procedure for multireader ROC study analysis. Acad. Radiol. 15, 647-661
   (2008). doi:10.1016/j.acra.2007.12.015
.. [4] Holm, S. A simple sequentially rejective multiple test procedure. Scand. J. Stat. 6, 65-70
   (1979). https://www.jstor.org/stable/4615733
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.stats import t as student_t

from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics.roc import confidence_quantile

DF_METHODS = ("satterthwaite", "replicates", "components")
"""Degrees of freedom of :func:`combine_replicates`: Hillis' Satterthwaite df, G - 1, or each part of
the variance on its own quantile (see the module docstring)."""
TEST_ONLY_NOTE = "one training: the interval covers test-set sampling only, not retraining variability"
TRUNCATED_NOTE = ("the trainings differ less than test-set sampling alone explains: training variance set to 0, "
                  "se from test-set sampling")
ZERO_SE_NOTE = "no variance information: every training gives the same value and the test-sampling variance is 0"


@dataclass(frozen=True)
class ReplicateCombination:
    """A statistic combined over trainings tested on the same test items (Obuchowski-Rockette-Hillis).

    Attributes
    ----------
    estimate : float
        Mean of the per-training values (of the per-cluster means when nested).
    se : float
        Standard error: training and test-set sampling.
    ci_low, ci_high : float
        ``estimate ± t_{df} se``.
    df : float
        Satterthwaite (Hillis) degrees of freedom; ``inf`` for a single training or when every
        training gives the same value.
    p_value : float
        Two-sided p-value of ``estimate == null``; NaN when ``se`` is 0 and the estimate is not
        the null value (no variance information), 1 when both are equal.
    method : str
        What was computed, in words.
    replicates : int
        Trainings combined.
    clusters : int
        Independent units G after averaging within clusters (= ``replicates`` when not nested).
    training_sd : float
        Square root of the estimated training variance of one unit (truncated at 0).
    se_test : float
        Square root of the test-set part of ``se²``.
    note : str
        Empty, or why the interval is limited (one training; truncated training variance; no
        variance information).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    p_value: float
    method: str
    replicates: int
    clusters: int
    training_sd: float
    se_test: float
    note: str


@dataclass(frozen=True)
class MeanCovariance:
    """Means of k per-item columns and the covariance of those means (test-set sampling).

    Attributes
    ----------
    means : numpy.ndarray
        (k,) means over the items where every column is defined.
    covariance : numpy.ndarray
        (k, k) sample covariance of the columns (ddof 1) over those items, divided by their number.
    n : int
        Items used.
    n_dropped : int
        Items left out because some column was NaN there.
    """

    means: np.ndarray
    covariance: np.ndarray
    n: int
    n_dropped: int


def mean_covariance(columns: ArrayLike) -> MeanCovariance:
    """Means of per-item score columns on the same test items and their test-sampling covariance.

    Parameters
    ----------
    columns
        (n, k) per-item scores (e.g. the Dice of k trainings on the same n test images); NaN marks
        an undefined score, and an item with a NaN in any column is left out of every column.

    Returns
    -------
    MeanCovariance
        Column means and ``cov(columns) / n`` over the items where every column is defined.

    Raises
    ------
    InputDataError
        If ``columns`` is not a 2-D numeric array, holds infinite values, or fewer than 2 items
        have every column defined.

    Examples
    --------
    >>> result = mean_covariance([[0.8, 0.7], [0.6, 0.6], [np.nan, 0.9], [0.7, 0.5]])
    >>> result.means.round(3).tolist(), result.n, result.n_dropped
    ([0.7, 0.6], 3, 1)
    """
    try:
        array = np.asarray(columns, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputDataError("columns: found non-numeric values; expected numbers") from None
    if array.ndim != 2 or array.shape[1] == 0:
        raise InputDataError(f"columns: found an array of shape {array.shape}; expected (n items, k columns)")
    if np.isinf(array).any():
        raise InputDataError("columns: found infinite values; expected finite scores (NaN = undefined)")
    keep = ~np.isnan(array).any(axis=1)
    n = int(keep.sum())
    if n < 2:
        raise InputDataError(f"columns: found {n} item(s) with every column defined among {array.shape[0]}; expected "
                             "at least 2")
    kept = array[keep]
    covariance = np.atleast_2d(np.cov(kept, rowvar=False, ddof=1)) / n
    return MeanCovariance(kept.mean(axis=0), covariance, n, int(array.shape[0] - n))


def _clustered(values: np.ndarray, covariance: np.ndarray, clusters: Sequence[object] | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Values and covariance averaged within clusters (order of first appearance)."""
    if clusters is None:
        return values, covariance
    labels = list(clusters)
    if len(labels) != values.size:
        raise InputDataError(f"clusters: found {len(labels)} labels for {values.size} values; expected one cluster "
                             "label per value")
    names = list(dict.fromkeys(labels))
    averaging = np.zeros((len(names), values.size))
    for column, label in enumerate(labels):
        averaging[names.index(label), column] = 1.0
    averaging /= averaging.sum(axis=1, keepdims=True)
    return averaging @ values, averaging @ covariance @ averaging.T


def _check(values: np.ndarray, covariance: np.ndarray) -> None:
    if values.ndim != 1 or values.size == 0:
        raise InputDataError(f"values: found an array of shape {values.shape}; expected (G,) per-training values, "
                             "G >= 1")
    if covariance.shape != (values.size, values.size):
        raise InputDataError(f"covariance: found shape {covariance.shape} for {values.size} values; expected "
                             f"({values.size}, {values.size})")
    if not (np.isfinite(values).all() and np.isfinite(covariance).all()):
        raise InputDataError("values, covariance: found NaN or infinite entries; expected finite numbers")
    tolerance = 1e-9 * float(np.abs(covariance).max(initial=0.0)) + 1e-15  # rounding of contrasts of equal columns
    if (np.diag(covariance) < -tolerance).any():
        raise InputDataError(f"covariance: found a negative variance {np.diag(covariance).min():.3g} on the "
                             "diagonal; expected a covariance matrix")


def combine_replicates(values: ArrayLike, covariance: ArrayLike, *, clusters: Sequence[object] | None = None,
                       null: float = 0.0, confidence: float = 0.95, df_method: str = "satterthwaite"
                       ) -> ReplicateCombination:
    """Combine per-training values with correlated test-sampling errors (Obuchowski-Rockette-Hillis).

    Parameters
    ----------
    values
        (R,) the statistic of each training (e.g. the AUC, or modality - label-free, of each
        replicate).
    covariance
        (R, R) covariance matrix of their test-set sampling errors (the same test items).
    clusters
        Optional (R,) cluster label of each value (e.g. the training subset of each replicate):
        values are averaged within clusters first and the clusters are the independent units.
    null
        Value of the statistic under the null hypothesis of the p-value (default 0).
    confidence
        Coverage of the interval, in (0, 1).
    df_method
        ``"satterthwaite"`` (default): Hillis' Satterthwaite df; ``"replicates"``: G - 1, the
        conservative df of Obuchowski & Rockette; ``"components"``: the G - 1 df quantile on the
        part of the variance estimated from the G values and the normal one on the shared
        test-set part, for statistics of one modality (see the module docstring).

    Returns
    -------
    ReplicateCombination
        See the module docstring for the estimator, its standard error and degrees of freedom.

    Raises
    ------
    InputDataError
        Empty or non-finite values, a covariance of the wrong shape, non-finite or with a negative
        variance, clusters of the wrong length, or a confidence outside (0, 1).
    ConfigError
        Unknown ``df_method``.

    Examples
    --------
    >>> result = combine_replicates([0.80, 0.84, 0.78], np.full((3, 3), 1e-4) + np.eye(3) * 2e-4)
    >>> round(result.estimate, 3), round(result.se, 4), round(result.df, 2)
    (0.807, 0.0203, 3.49)
    """
    if df_method not in DF_METHODS:
        raise ConfigError(f"df_method: found {df_method!r}; expected one of {', '.join(DF_METHODS)}")
    q_normal = confidence_quantile(confidence)
    y = np.asarray(values, dtype=np.float64)
    s = np.asarray(covariance, dtype=np.float64)
    if y.ndim == 0:
        y = y[None]
    s = np.atleast_2d(s)
    _check(y, s)
    s = s.copy()
    np.fill_diagonal(s, np.maximum(np.diag(s), 0.0))
    replicates = int(y.size)
    y, s = _clustered(y, s, clusters)
    g = int(y.size)
    estimate = float(y.mean())
    v_bar = float(np.mean(np.diag(s)))
    if g == 1:
        se, se_test, training_sd, df = math.sqrt(v_bar), math.sqrt(v_bar), float("nan"), math.inf
        note, method = TEST_ONLY_NOTE, "test-set sampling only (one training)"
    else:
        c_bar = max(float((s.sum() - np.trace(s)) / (g * (g - 1))), 0.0)
        s2 = float(np.var(y, ddof=1)) if np.ptp(y) > 0 else 0.0
        test_part = max(v_bar / g + (g - 1) * c_bar / g, 0.0)
        training = s2 - v_bar + c_bar
        units = "clusters" if clusters is not None else "trainings"
        method = (f"Obuchowski-Rockette over {g} {units}, df G - 1" if df_method == "replicates"
                  else f"Obuchowski-Rockette-Hillis over {g} {units}, Satterthwaite df")
        note = "" if training > 0 else TRUNCATED_NOTE
        training = max(training, 0.0)
        se = math.sqrt(training / g + test_part)
        if df_method == "replicates":
            df = float(g - 1)
        elif df_method == "components":
            df = _equivalent_df(s2 / g, c_bar, se, g - 1, confidence)
        else:
            df = se**4 / ((s2 / g) ** 2 / (g - 1)) if s2 > 0 else math.inf
        se_test, training_sd = math.sqrt(test_part), math.sqrt(training)
    quantile = q_normal if math.isinf(df) else float(student_t.ppf(0.5 + confidence / 2, df))
    if se > 0:
        p_value = float(2 * student_t.sf(abs(estimate - null) / se, df))
    else:
        p_value = 1.0 if math.isclose(estimate, null, rel_tol=1e-12, abs_tol=1e-15) else float("nan")
        note = "; ".join(part for part in (note, ZERO_SE_NOTE) if part)
    return ReplicateCombination(estimate=estimate, se=se, ci_low=estimate - quantile * se,
                                ci_high=estimate + quantile * se, df=float(df), p_value=p_value, method=method,
                                replicates=replicates, clusters=g, training_sd=training_sd, se_test=se_test,
                                note=note)


def _equivalent_df(spread: float, shared: float, se: float, df: int, confidence: float) -> float:
    """The t df whose quantile times ``se`` is ``sqrt(max(t²_df spread + z² shared, z² se²))``."""
    level = 0.5 + confidence / 2
    z, t = confidence_quantile(confidence), float(student_t.ppf(level, df))
    if se <= 0:
        return math.inf
    ratio = math.sqrt(max(t**2 * spread + z**2 * shared, z**2 * se**2)) / se
    if ratio <= z * (1 + 1e-12):
        return math.inf
    if ratio >= t:
        return float(df)
    return float(brentq(lambda d: float(student_t.ppf(level, d)) - ratio, df, 1e9))


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family; NaN entries stay NaN and do not count.

    Parameters
    ----------
    p_values
        (m,) p-values of the hypotheses of one family.

    Returns
    -------
    numpy.ndarray
        (m,) adjusted p-values, in the input order: the i-th smallest becomes
        ``max_{j <= i} min(1, (m - j + 1) p_(j))`` with m the number of finite p-values.

    Raises
    ------
    InputDataError
        If a p-value lies outside [0, 1] or the input is not 1-D.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise InputDataError(f"p_values: found an array of shape {p.shape}; expected one p-value per hypothesis")
    finite = ~np.isnan(p)
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise InputDataError(f"p_values: found {p[finite][(p[finite] < 0) | (p[finite] > 1)][0]:g}; expected values "
                             "in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    index = np.flatnonzero(finite)
    order = index[np.argsort(p[index], kind="stable")]
    m = order.size
    running = 0.0
    for rank, position in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[position]))
        adjusted[position] = running
    return adjusted

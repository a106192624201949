"""Does the benefit of a virtual stain change with capacity? A trend over the capacity sweep, all trainings combined.

The study's finding is a trend: the advantage of virtually stained over label-free images
shrinks as the task network's capacity grows. Here the advantage is the paired difference
``d_{k,r}`` = stain - label-free of replicate r of the network of capacity k, on the same test
items (AUC, or mean Dice ...), and x_k = log10(trainable parameters).

Method: per-replicate slopes combined with the shared-test-set covariance. For each replicate r
the ordinary least-squares slope ``b_r = sum_k c_k d_{k,r}`` with ``c_k = (x_k - x̄) / sum (x - x̄)²``
(the change of the advantage per tenfold more parameters); the ``b_r`` are linear in the
differences, so their test-sampling covariance is ``W S Wᵀ`` with S the covariance of all the
``d_{k,r}`` (DeLong's covariance of every score set of the sweep, or the covariance of the
per-image differences: every network is tested on the same items), and they are combined by
:func:`stainworth.metrics.replicates.combine_replicates` (Obuchowski-Rockette-Hillis: the
between-replicate spread of the slopes carries the training variance of every capacity, the test
covariance the shared test set; Satterthwaite df, at least G - 1 = 2 for three replicates).
Replicates present at every capacity are used (replicate r of the stain paired with replicate r of
label-free; the pairing of replicates across capacities is arbitrary, which is harmless because
trainings are independent).

Why this and not a random-effects meta-regression of the per-capacity combined differences
(REML τ², GLS, Knapp-Hartung df K - 2), which we also tried: the meta-regression needs the
training variance at each capacity as a known weight, but with three replicates each is estimated
on 2 df (and truncated at 0), so the weights are noisy. In the simulation of
``docs/statistics.md`` (5 capacities, 3 replicates, 200 + 200 shared test items, training SD of
the AUC 0, 0.04, 0.12) its 95 % interval covered the true slope in 0.933 / 0.922 / 0.909 of runs
and called a null slope in 0.051 / 0.083 / 0.088; the per-replicate slopes covered it in
0.984 / 0.942 / 0.946 and called a null slope in 0.014 / 0.055 / 0.051. The slopes need no
weights: their spread over replicates measures the training variance of the slope directly.
Inference is conditional on the capacities tried (the slope of the best line through the mean
advantages of these networks); the scatter of the mean differences about that line beyond what
training and test sampling explain is reported as ``tau2`` (a moment estimate) and does not enter
the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from stainworth.errors import InputDataError
from stainworth.evaluation.comparisons import paired_differences
from stainworth.evaluation.units import UnitScores
from stainworth.metrics.replicates import combine_replicates

MIN_CAPACITIES = 3
"""Capacities needed for a trend."""
METHOD = "per-replicate least-squares slopes on log10(parameters), combined by Obuchowski-Rockette-Hillis"


@dataclass(frozen=True)
class CapacityTrend:
    """Trend of (stain - label-free) against log10 trainable parameters, all trainings combined.

    Attributes
    ----------
    stainer_modality, metric : str
        The modality compared with label-free, and the metric.
    slope : float
        Change of the difference per tenfold more trainable parameters (mean of the replicates' slopes).
    se, ci_low, ci_high, df, p_value : float
        Its standard error (training and test-set sampling), interval, Satterthwaite df and the
        two-sided p-value of "no change".
    tau2 : float
        Moment estimate of the variance of the mean differences about the line beyond training
        and test sampling (lack of fit; reported, not used in the interval).
    method : str
        What was computed.
    capacities : int
        Capacities used.
    replicates : int
        Replicates per capacity used.
    note : str
        Empty, or what limits the interval (e.g. one replicate: test-set sampling only).
    confidence : float
        Coverage of the interval.
    """

    stainer_modality: str
    metric: str
    slope: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    p_value: float
    tau2: float
    method: str
    capacities: int
    replicates: int
    note: str
    confidence: float = 0.95

    @property
    def direction(self) -> str:
        """``"shrinks"``, ``"grows"`` or ``"none"`` (interval containing 0)."""
        return "shrinks" if self.ci_high < 0 else "grows" if self.ci_low > 0 else "none"

    @property
    def sentence(self) -> str:
        """One sentence: the slope, its interval, and what it means against the study's finding."""
        return trend_sentence(self)


def _sweep_pairs(units: Sequence[UnitScores], stainer_modality: str, reference: str
                 ) -> tuple[list[tuple[str, int]], list[int], dict[tuple[str, int], tuple[UnitScores, UnitScores]]]:
    """Architectures (with capacities, increasing), replicates at every one of them, and the pairs."""
    by_key: dict[tuple[str, str, int], UnitScores] = {
        (unit.architecture, unit.modality, unit.replicate): unit for unit in units if unit.train_size is None}
    pairs = {(architecture, replicate): (unit, by_key[(architecture, reference, replicate)])
             for (architecture, modality, replicate), unit in by_key.items()
             if modality == stainer_modality and (architecture, reference, replicate) in by_key
             and not (unit.degenerate or by_key[(architecture, reference, replicate)].degenerate)}
    architectures = sorted({(architecture, pair[0].capacity) for (architecture, _), pair in pairs.items()},
                           key=lambda item: (item[1], item[0]))
    replicate_sets = [{r for (a, r) in pairs if a == architecture} for architecture, _ in architectures]
    common = sorted(set.intersection(*replicate_sets)) if replicate_sets else []
    return architectures, common, pairs


def capacity_trend(units: Sequence[UnitScores], stainer_modality: str, metric: str, *, reference: str = "label_free",
                   confidence: float = 0.95) -> CapacityTrend | None:
    """The trend of ``stainer_modality`` minus ``reference`` over the capacity sweep, or None.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task; those of the capacity sweep (``train_size`` None) are used, all tested
        on the same test items. A pair with a training still degenerate after its last attempt is
        left out, and with it that replicate at every capacity (the trend needs the same
        replicates at each).
    stainer_modality : str
        The modality compared with the reference.
    metric : str
        ``auc`` (empirical AUC; DeLong covariance) or a segmentation score (``dice`` ...).
    reference : str, optional
        The reference modality (default ``"label_free"``).
    confidence : float, optional
        Coverage of the interval (default 0.95).

    Returns
    -------
    CapacityTrend or None
        None when fewer than :data:`MIN_CAPACITIES` distinct capacities have a paired replicate in
        common.

    Raises
    ------
    InputDataError
        The trainings are scored on different test items, or their scores are unusable.
    """
    architectures, replicates, pairs = _sweep_pairs(units, stainer_modality, reference)
    if len({capacity for _, capacity in architectures}) < MIN_CAPACITIES or not replicates:
        return None
    keys = [(architecture, replicate) for architecture, _ in architectures for replicate in replicates]
    differences = paired_differences([pairs[key][0] for key in keys], [pairs[key][1] for key in keys], metric)
    return trend_from_differences(differences.values, differences.covariance,
                                  [capacity for _, capacity in architectures], stainer_modality=stainer_modality,
                                  metric=metric, confidence=confidence)


def trend_from_differences(differences: ArrayLike, covariance: ArrayLike, capacities: Sequence[int], *,
                           stainer_modality: str = "", metric: str = "", confidence: float = 0.95) -> CapacityTrend:
    """The trend of paired differences ``d_{k,r}`` over log10 capacity (see the module docstring).

    Parameters
    ----------
    differences
        (K G,) differences, capacity-major: ``differences[k * G + r]`` is replicate r at capacity k.
    covariance
        (K G, K G) their test-sampling covariance (the same test items).
    capacities
        (K,) trainable parameters of the K networks, at least :data:`MIN_CAPACITIES` distinct.
    stainer_modality, metric
        Names carried into the result.
    confidence
        Coverage of the interval.

    Returns
    -------
    CapacityTrend
        The combined per-replicate slope and the lack-of-fit ``tau2``.

    Raises
    ------
    InputDataError
        Fewer than :data:`MIN_CAPACITIES` distinct capacities, a non-positive capacity, or
        differences whose number is not a multiple of the capacities.
    """
    x_raw = np.asarray(capacities, dtype=np.float64)
    values = np.asarray(differences, dtype=np.float64)
    if np.unique(x_raw).size < MIN_CAPACITIES or (x_raw <= 0).any():
        raise InputDataError(f"capacities: found {x_raw.tolist()}; expected at least {MIN_CAPACITIES} distinct "
                             "positive parameter counts")
    k = x_raw.size
    if values.ndim != 1 or values.size % k:
        raise InputDataError(f"differences: found {values.size} values for {k} capacities; expected replicates x "
                             "capacities values, capacity-major")
    g = values.size // k
    matrix = np.asarray(covariance, dtype=np.float64)
    x = np.log10(x_raw)
    centred = x - x.mean()
    weights = centred / np.sum(centred**2)
    slope_of = np.zeros((g, k * g))
    for index in range(k):
        slope_of[np.arange(g), index * g + np.arange(g)] = weights[index]
    combined = combine_replicates(slope_of @ values, slope_of @ matrix @ slope_of.T, confidence=confidence)
    return CapacityTrend(stainer_modality=stainer_modality, metric=metric, slope=combined.estimate, se=combined.se,
                         ci_low=combined.ci_low, ci_high=combined.ci_high, df=combined.df,
                         p_value=combined.p_value, tau2=_lack_of_fit(values, matrix, x, g), method=METHOD,
                         capacities=k, replicates=g, note=combined.note, confidence=confidence)


def _lack_of_fit(values: np.ndarray, covariance: np.ndarray, x: np.ndarray, g: int) -> float:
    """Moment estimate of tau²: residual scatter of the mean differences about the line beyond its expectation."""
    k = x.size
    averaging = np.kron(np.eye(k), np.full((1, g), 1.0 / g))
    means, test = averaging @ values, averaging @ covariance @ averaging.T
    training = np.zeros(k)
    if g > 1:
        for index in range(k):
            block = slice(index * g, (index + 1) * g)
            result = combine_replicates(values[block], covariance[block, block])
            training[index] = result.training_sd**2 / g
    design = np.column_stack([np.ones(k), x])
    residual_maker = np.eye(k) - design @ np.linalg.pinv(design)
    residuals = residual_maker @ means
    expected = float(np.trace(residual_maker @ (test + np.diag(training))))
    return max(float(residuals @ residuals) - expected, 0.0) / (k - 2)


def trend_sentence(trend: CapacityTrend) -> str:
    """One sentence: the slope, its interval, and what it means against the study's finding.

    Parameters
    ----------
    trend : CapacityTrend
        The output of :func:`capacity_trend`.

    Returns
    -------
    str
        E.g. "Across the 5 capacities (3 replicates each), virtual_effunet minus label-free auc
        changes by -0.031 per tenfold more parameters (95% CI -0.052 to -0.010, df 2.4, p = 0.02):
        the advantage shrinks as capacity grows, as in the study."
    """
    meaning = {
        "shrinks": "the advantage shrinks as capacity grows, as in the study",
        "grows": "the advantage grows with capacity, unlike the study",
        "none": "no capacity effect can be told apart from none at this scale",
    }[trend.direction]
    df = "1,000+" if trend.df > 1000 else f"{trend.df:.1f}"
    level = f"{100 * trend.confidence:g}%"
    note = f" ({trend.note})" if trend.note else ""
    return (f"Across the {trend.capacities} capacities ({trend.replicates} replicate{'s' * (trend.replicates > 1)} "
            f"each), {trend.stainer_modality} minus label-free {trend.metric} changes by {trend.slope:+.3f} per "
            f"tenfold more parameters ({level} CI {trend.ci_low:+.3f} to {trend.ci_high:+.3f}, df {df}, "
            f"p = {trend.p_value:.2g}){note}: {meaning}.")

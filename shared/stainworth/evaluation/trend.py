"""Does the benefit of a virtual stain change with capacity? A weighted trend over the capacity sweep.

The study's finding is a trend: the advantage of virtually stained over label-free images
shrinks as the task network's capacity grows. Here the paired differences of the capacity sweep
(``comparisons.csv``: virtual stain minus label-free on the same test items, with the standard
error of DeLong's test for AUCs, or for Dice the paired bootstrap interval's half-width / 1.96)
are regressed on
log10(trainable parameters) by weighted least squares (weights 1/se²). The slope is the change in
the advantage per tenfold more parameters; its standard error is ``sqrt(phi / sum w (x - x̄_w)²)``
with ``phi = max(1, sum w r² / (n - 2))``, the residuals' excess scatter over what the standard
errors explain (a network that trained badly at one capacity widens the interval instead of
steering the slope with false precision), and its 95% interval is ``slope ± 1.96 se``. The
differences at different capacities share the test set, and that covariance is ignored, so the
interval is approximate; a slope whose interval excludes 0 is called a trend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stainworth.metrics.roc import confidence_quantile

MIN_CAPACITIES = 3
"""Capacities needed for a trend."""


@dataclass(frozen=True)
class CapacityTrend:
    """Weighted trend of (stain − label-free) against log10 parameters."""

    stainer_modality: str
    metric: str
    slope: float
    """Change of the difference per tenfold more trainable parameters."""
    se: float
    ci_low: float
    ci_high: float
    capacities: int

    @property
    def direction(self) -> str:
        """``"shrinks"``, ``"grows"`` or ``"none"`` (interval containing 0)."""
        return "shrinks" if self.ci_high < 0 else "grows" if self.ci_low > 0 else "none"


def capacity_trend(comparisons: pd.DataFrame | None, stainer_modality: str, metric: str,
                   confidence: float = 0.95) -> CapacityTrend | None:
    """The trend of ``stainer_modality`` minus label-free over the capacity sweep, or None.

    Parameters
    ----------
    comparisons
        The ``evaluate`` comparisons table (rows of the capacity sweep have no ``train_size``).
    stainer_modality, metric
        The stain compared with label-free, and the metric (``auc``, ``dice`` ...).
    confidence
        Coverage of the interval.

    Returns
    -------
    CapacityTrend or None
        None when fewer than :data:`MIN_CAPACITIES` capacities have a finite difference and a
        positive standard error.
    """
    if comparisons is None or comparisons.empty:
        return None
    rows = comparisons[(comparisons["modality"] == stainer_modality) & comparisons["train_size"].isna()
                       & (comparisons["metric"] == metric)]
    q = confidence_quantile(confidence)
    from_interval = (rows["ci_high"] - rows["ci_low"]) / (2 * q)  # the bootstrap rows carry no se
    rows = rows.assign(se=rows["se"].where(np.isfinite(rows["se"]), from_interval))
    rows = rows[np.isfinite(rows["difference"]) & np.isfinite(rows["se"]) & (rows["se"] > 0)]
    if rows["capacity"].nunique() < MIN_CAPACITIES:
        return None
    x = np.log10(rows["capacity"].to_numpy(float))
    y = rows["difference"].to_numpy(float)
    w = 1.0 / rows["se"].to_numpy(float) ** 2
    x_bar = np.sum(w * x) / np.sum(w)
    spread = np.sum(w * (x - x_bar) ** 2)
    slope = float(np.sum(w * (x - x_bar) * y) / spread)
    residuals = y - (np.sum(w * y) / np.sum(w) + slope * (x - x_bar))
    dispersion = float(np.sum(w * residuals**2)) / (len(y) - 2) if len(y) > 2 else 1.0
    se = float(np.sqrt(max(1.0, dispersion) / spread))
    return CapacityTrend(stainer_modality, metric, slope, se, slope - q * se, slope + q * se,
                         int(rows["capacity"].nunique()))


def trend_sentence(trend: CapacityTrend) -> str:
    """One sentence: the slope, its interval, and what it means against the study's finding."""
    meaning = {
        "shrinks": "the advantage shrinks as capacity grows, as in the study",
        "grows": "the advantage grows with capacity, unlike the study",
        "none": "no capacity effect can be told apart from none at this scale",
    }[trend.direction]
    return (f"Across the {trend.capacities} capacities, {trend.stainer_modality} minus label-free {trend.metric} "
            f"changes by {trend.slope:+.3f} per tenfold more parameters (95% CI {trend.ci_low:+.3f} to "
            f"{trend.ci_high:+.3f}): {meaning}.")

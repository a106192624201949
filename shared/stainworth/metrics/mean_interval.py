"""One-sample Student-t interval of a mean: per-image differences of two methods, per-field scores.

For n independent values with mean m and standard deviation s, the interval is
``m ± t_{n-1, (1+confidence)/2} s / sqrt(n)`` and the p value that of the two-sided one-sample t
test against ``null`` (``scipy.stats.ttest_1samp``). Two finite-sample edges are said in the
result's ``method`` instead of being hidden in a zero standard error:

- one value: no spread can be estimated; se, interval and p are NaN;
- every value equal up to rounding: the standard error is 0 and the interval the point, and the p
  value is NaN (a t statistic has nothing to divide by).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from stainworth.errors import InputDataError

METHOD = "one-sample t"


@dataclass(frozen=True)
class MeanInterval:
    """Mean of independent values with its Student-t interval and the t test against a null value.

    Attributes
    ----------
    estimate, se : float
        Mean and its standard error ``s / sqrt(n)``.
    ci_low, ci_high : float
        Interval, clipped to the bounds the mean can take.
    df : float
        Degrees of freedom, ``n - 1``.
    p : float
        Two-sided p value of ``mean == null`` (NaN where no test exists, see ``method``).
    n : int
        Values averaged.
    method : str
        How the interval was made, and what was done at an edge.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    p: float
    n: int
    method: str


def t_interval(values: ArrayLike, *, confidence: float = 0.95, null: float = 0.0,
               bounds: tuple[float, float] = (-math.inf, math.inf), method: str = METHOD) -> MeanInterval:
    """Mean of ``values`` with the t interval ``mean ± t_{n-1} sd / sqrt(n)`` and the t test against ``null``.

    Parameters
    ----------
    values : array_like
        Independent values (any shape, flattened).
    confidence : float
        Coverage of the interval.
    null : float
        Value of the mean under the null hypothesis of the t test.
    bounds : tuple of float
        Range the mean can take (``(0, 1)`` for a Dice); the interval is clipped to it.
    method : str
        Description of the values, the start of the result's ``method``.

    Raises
    ------
    InputDataError
        No values, NaN/Inf among them, or a confidence outside (0, 1).

    Examples
    --------
    >>> result = t_interval([0.8, 0.9, 1.0])
    >>> round(result.estimate, 3), round(result.ci_low, 3), round(result.ci_high, 3), result.df
    (0.9, 0.652, 1.148, 2.0)
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.isfinite(x).all():
        raise InputDataError(f"values: {x.size} values, finite: {bool(np.isfinite(x).all())}; "
                             "expected at least one finite value")
    if not 0.0 < confidence < 1.0:
        raise InputDataError(f"confidence: {confidence}; expected a number between 0 and 1")
    mean, n = float(x.mean()), int(x.size)
    if n == 1:
        nan = float("nan")
        return MeanInterval(mean, nan, nan, nan, 0.0, nan, 1, f"{method}; one value, no spread to estimate")
    if np.allclose(x, x[0], rtol=1e-9, atol=1e-12):
        return MeanInterval(mean, 0.0, mean, mean, float(n - 1), float("nan"), n,
                            f"{method}; every value equal, no spread")
    result = stats.ttest_1samp(x, null)
    interval = result.confidence_interval(confidence)
    return MeanInterval(mean, float(x.std(ddof=1) / math.sqrt(n)), max(float(interval.low), bounds[0]),
                        min(float(interval.high), bounds[1]), float(result.df), float(result.pvalue), n, method)

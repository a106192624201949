"""The one-sample t interval: coverage and false-positive rate by simulation, and its finite-sample edges."""

import math

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.metrics.mean_interval import t_interval


def test_the_interval_is_the_textbook_t_interval_and_test():
    result = t_interval([0.8, 0.9, 1.0], null=0.5)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert (result.estimate, result.df, result.n) == (pytest.approx(0.9), 2.0, 3)
    assert result.se == pytest.approx(0.1 / math.sqrt(3))
    assert (result.ci_low, result.ci_high) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half))
    t = 0.4 / (0.1 / math.sqrt(3))
    assert result.p == pytest.approx(2 * (1 - __import__("scipy").stats.t.cdf(t, 2)))


@pytest.mark.parametrize("n", [3, 12, 60])
def test_the_interval_covers_the_mean_and_a_true_null_is_called_at_its_level(n):
    rng = np.random.default_rng(n)
    runs = 2000
    covered = called = 0
    for _ in range(runs):
        values = rng.exponential(1.0, n) if n == 60 else rng.normal(0.3, 2.0, n)
        truth = 1.0 if n == 60 else 0.3
        result = t_interval(values, null=truth)
        covered += result.ci_low <= truth <= result.ci_high
        called += result.p < 0.05
    assert 0.93 <= covered / runs <= 0.97
    assert called / runs <= 0.07 and called + covered == runs  # the test and the interval agree


def test_one_value_and_no_spread_say_what_was_done_instead_of_a_zero_standard_error():
    single = t_interval([0.7])
    assert single.estimate == 0.7 and math.isnan(single.se) and math.isnan(single.ci_low) and math.isnan(single.p)
    assert "one value" in single.method
    flat = t_interval([0.2, 0.2 + 1e-15, 0.2])
    assert flat.se == 0.0 and flat.ci_low == flat.ci_high == pytest.approx(0.2) and math.isnan(flat.p)
    assert "no spread" in flat.method


def test_bounds_clip_the_interval():
    result = t_interval([0.95, 0.99, 1.0], bounds=(0.0, 1.0))
    assert result.ci_high == 1.0 and result.ci_low < result.estimate


@pytest.mark.parametrize("values, confidence", [([], 0.95), ([0.5, np.nan], 0.95), ([0.5, np.inf], 0.95),
                                                ([0.1, 0.2], 1.0)])
def test_refuses_no_values_non_finite_values_and_a_bad_confidence(values, confidence):
    with pytest.raises(InputDataError, match="expected"):
        t_interval(values, confidence=confidence)

import doctest
import warnings

import numpy as np
import pytest
import scipy.stats

import stainworth.metrics.bootstrap as bootstrap
from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics.bootstrap import paired_bootstrap, resampled_means

TRUE_DIFFERENCE = 0.75 * (1 - 0.9)  # E[a] - E[a U] with a ~ Beta(6, 2), U ~ Beta(9, 1)


def skewed_pairs(rng, n):
    """Dice-like paired scores with a skewed per-image difference of known mean."""
    a = rng.beta(6, 2, n)
    return a, a * rng.beta(9, 1, n)


def test_difference_and_determinism():
    a, b = skewed_pairs(np.random.default_rng(0), 300)
    first = paired_bootstrap(a, b, n_boot=2000, seed=3)
    assert first.difference == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    assert first == paired_bootstrap(a, b, n_boot=2000, seed=3)
    assert first.ci_low != paired_bootstrap(a, b, n_boot=2000, seed=4).ci_low
    assert first.ci_low < first.difference < first.ci_high
    assert (first.n_pairs, first.n_dropped, first.n_boot, first.method) == (300, 0, 2000, "bca")


def test_resampled_means_match_explicit_resamples():
    values = np.arange(7.0) ** 2
    indices = np.random.default_rng(11).integers(0, 7, size=(50, 7))
    np.testing.assert_allclose(resampled_means(values, n_boot=50, seed=11), values[indices].mean(axis=1))


def test_pairing_removes_shared_image_difficulty():
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(0.2, 0.95, 400)  # per-image difficulty shared by both modalities
    a, b = difficulty + rng.normal(0.01, 0.01, 400), difficulty
    paired = paired_bootstrap(a, b, n_boot=2000, method="percentile")
    unpaired = resampled_means(a, n_boot=2000, seed=1) - resampled_means(b, n_boot=2000, seed=2)
    unpaired_width = np.subtract(*np.quantile(unpaired, [0.975, 0.025]))
    assert paired.ci_high - paired.ci_low < 0.1 * unpaired_width
    assert paired.ci_low > 0


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_coverage_near_nominal(method):
    covered = 0
    for replicate in range(200):
        a, b = skewed_pairs(np.random.default_rng(1000 + replicate), 40)
        result = paired_bootstrap(a, b, n_boot=2000, method=method, seed=replicate)
        covered += result.ci_low <= TRUE_DIFFERENCE <= result.ci_high
    assert 0.88 <= covered / 200 <= 0.99  # measured: percentile 0.910, bca 0.935


def test_bca_equals_percentile_for_symmetric_differences():
    half = np.random.default_rng(2).gamma(2.0, 0.02, 250)
    differences = np.concatenate([half, 2 * 0.0025 - half])  # symmetric about 0.0025: no skew
    b = np.full(differences.size, 0.5)
    bca = paired_bootstrap(b + differences, b, method="bca", seed=5)
    percentile = paired_bootstrap(b + differences, b, method="percentile", seed=5)
    width = percentile.ci_high - percentile.ci_low
    assert abs(bca.ci_low - percentile.ci_low) < 0.01 * width  # measured 0.05 % of the width
    assert abs(bca.ci_high - percentile.ci_high) < 0.01 * width
    assert 0.1 < percentile.p_value < 0.4  # measured 0.225 (bca 0.224)
    assert abs(bca.p_value - percentile.p_value) < 0.01


def test_acceleration_is_the_jackknife_skewness_of_the_mean():
    values = np.random.default_rng(3).exponential(size=60)
    boot = resampled_means(values, n_boot=1000, seed=0)
    _, accel = bootstrap._bias_and_acceleration(boot, values.mean(), values)
    centred = values - values.mean()
    assert accel == pytest.approx(np.sum(centred**3) / (6 * np.sum(centred**2) ** 1.5), rel=1e-10)


def test_bca_matches_scipy():
    a, b = skewed_pairs(np.random.default_rng(5), 200)
    ours = paired_bootstrap(a, b, n_boot=10_000, seed=0)
    theirs = scipy.stats.bootstrap((a - b,), np.mean, method="BCa", n_resamples=10_000, random_state=0)
    width = ours.ci_high - ours.ci_low
    assert abs(ours.ci_low - theirs.confidence_interval.low) < 0.05 * width
    assert abs(ours.ci_high - theirs.confidence_interval.high) < 0.05 * width


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_p_value_agrees_with_the_interval(method):
    rng = np.random.default_rng(6)
    outcomes = set()
    for shift in np.linspace(0.0, 0.03, 13):
        a, b = skewed_pairs(rng, 80)
        result = paired_bootstrap(a - TRUE_DIFFERENCE + shift, b, n_boot=2000, method=method, seed=7)
        excluded = not result.ci_low <= 0 <= result.ci_high
        assert excluded == (result.p_value < 0.05)
        outcomes.add(excluded)
    assert outcomes == {True, False}


def test_p_value_is_the_share_across_zero_for_percentile():
    a, b = skewed_pairs(np.random.default_rng(8), 50)
    a = a - TRUE_DIFFERENCE + 0.01
    result = paired_bootstrap(a, b, n_boot=3000, method="percentile", seed=9)
    boot = resampled_means(a - b, n_boot=3000, seed=9)
    tails = min(np.sum(boot < 0), np.sum(boot > 0))
    assert result.p_value == pytest.approx(2 * (tails + 1) / 3001)  # Davison & Hinkley: (count + 1) / (n + 1)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_p_value_is_never_zero(method):
    """No resample crosses zero: p is the smallest two-sided value 2,000 resamples can show, not 0."""
    rng = np.random.default_rng(12)
    b = rng.uniform(0.6, 0.9, 500)
    result = paired_bootstrap(b + rng.normal(0.05, 0.01, 500), b, n_boot=2000, method=method)
    assert result.ci_low > 0.04
    if method == "percentile":
        assert result.p_value == pytest.approx(2 / 2001)
    else:  # the smallest level (0 + 1) / 2001 mapped through the BCa correction, never below 2 / 2001
        assert 2 / 2001 <= result.p_value < 0.002


def test_no_difference_gives_p_one_and_a_point_interval():
    a = np.random.default_rng(10).random(30)
    result = paired_bootstrap(a, a.copy(), n_boot=500)
    assert (result.difference, result.ci_low, result.ci_high, result.p_value) == (0, 0, 0, 1)


def test_nan_pairs_are_dropped_and_counted():
    a, b = skewed_pairs(np.random.default_rng(11), 100)
    a_nan, b_nan = a.copy(), b.copy()
    a_nan[[3, 50]] = np.nan
    b_nan[7] = np.nan
    keep = np.ones(100, bool)
    keep[[3, 50, 7]] = False
    result = paired_bootstrap(a_nan, b_nan, n_boot=1000)
    assert result.n_dropped == 3 and result.n_pairs == 97
    reference = paired_bootstrap(a[keep], b[keep], n_boot=1000)
    assert (result.difference, result.ci_low, result.ci_high) == (
        reference.difference, reference.ci_low, reference.ci_high)


def test_docstring_examples():
    assert doctest.testmod(bootstrap, extraglobs={"np": np}).failed == 0


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.ones(5), np.ones(4), "differ in length: 5 vs 4"),
        (np.ones((2, 3)), np.ones((2, 3)), r"1-D arrays; got shapes \(2, 3\) and \(2, 3\)"),
        (np.array([1.0, np.inf, 0.5]), np.ones(3), "infinite values"),
        (np.array([1.0, np.nan, 0.5]), np.array([0.5, 0.5, np.nan]), "at least 2 images .* got 1 of 3"),
        (np.zeros(0), np.zeros(0), "got 0 of 0"),
    ],
)
def test_bad_values_are_refused(a, b, match):
    with pytest.raises(InputDataError, match=match):
        paired_bootstrap(a, b, n_boot=100)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "basic"}, "method: found 'basic'; expected one of bca, percentile"),
        ({"confidence": 1.0}, r"confidence: found 1.0; expected a level in \(0, 1\)"),
        ({"n_boot": 10}, "n_boot: found 10; expected at least 100"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        paired_bootstrap(np.ones(5), np.ones(5), **kwargs)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_a_constant_difference_up_to_rounding_gives_the_point_and_the_smallest_p(method):
    """b + 0.1 - b is 0.1 only up to rounding: no spread for BCa's jackknife, no warning, no NaN."""
    b = np.random.default_rng(13).uniform(0.3, 0.9, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_bootstrap(b + 0.1, b, n_boot=100, method=method, seed=92)
    assert result.ci_low == pytest.approx(0.1, abs=1e-15) and result.ci_high == pytest.approx(0.1, abs=1e-15)
    assert result.p_value == pytest.approx(2 / 101)

"""Binormal ROC fit by maximum likelihood with LABROC categorisation."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime, minimize
from scipy.stats import norm

from stainworth.errors import InputDataError
from stainworth.metrics import empirical_auc, fit_binormal, labroc_categories
from stainworth.metrics.binormal import _objective, _start

# Hanley & McNeil (1982), Table I: 5-point ratings of 58 normal and 51 abnormal CT images.
HM_NORMAL = [33, 6, 6, 11, 2]
HM_ABNORMAL = [3, 2, 2, 11, 33]


def binormal_sample(a, b, n, seed):
    """n negatives from N(0, 1) and n positives from N(a/b, 1/b^2): ROC = Phi(a + b Phi^-1(FPF))."""
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(0, 1, n), rng.normal(a / b, 1 / b, n)]
    return scores, np.r_[np.zeros(n, int), np.ones(n, int)]


def true_auc(a, b):
    return norm.cdf(a / np.sqrt(1 + b**2))


def hanley_mcneil():
    ratings = np.arange(1.0, 6.0)
    scores = np.r_[np.repeat(ratings, HM_NORMAL), np.repeat(ratings, HM_ABNORMAL)]
    return scores, np.r_[np.zeros(sum(HM_NORMAL), int), np.ones(sum(HM_ABNORMAL), int)]


def reference_loglik(params, neg, pos):
    """Dorfman-Alf log-likelihood written out directly, natural parameters (a, b, z_1..z_{K-1})."""
    a, b, z = params[0], params[1], np.r_[-np.inf, params[2:], np.inf]
    p_neg = np.diff(norm.cdf(z))
    p_pos = np.diff(norm.cdf(b * z - a))
    if b <= 0 or np.any(np.diff(z) <= 0):
        return -np.inf
    return float(np.sum(neg * np.log(p_neg)) + np.sum(pos * np.log(p_pos)))


@pytest.mark.parametrize(("a", "b", "seed"), [(1.2, 0.8, 0), (0.5, 1.0, 1)])
def test_recovers_known_binormal_parameters(a, b, seed):
    fit = fit_binormal(*binormal_sample(a, b, 300, seed))
    assert fit.converged and not fit.degenerate and fit.note == ""
    assert abs(fit.auc - true_auc(a, b)) < 3 * fit.se
    assert fit.a == pytest.approx(a, abs=0.3)  # about 3 sd of the estimate at n = 300 + 300
    assert fit.b == pytest.approx(b, abs=0.2)
    assert fit.ci_low < fit.auc < fit.ci_high
    assert 0.01 < fit.se < 0.03


def test_interval_covers_the_true_auc_at_the_nominal_rate_without_bias():
    configs = [(1.2, 0.8), (0.5, 1.0)]
    results = {config: [] for config in configs}
    for seed in range(200):
        a, b = configs[seed % 2]
        fit = fit_binormal(*binormal_sample(a, b, 300, 1000 + seed))
        assert fit.converged and not fit.degenerate
        results[(a, b)].append((fit.auc, fit.se, fit.ci_low <= true_auc(a, b) <= fit.ci_high))
    covered = [hit for rows in results.values() for _, _, hit in rows]
    assert 0.90 <= np.mean(covered) <= 0.99
    for (a, b), rows in results.items():
        auc, se, _ = np.array(rows).T
        assert abs(auc.mean() - true_auc(a, b)) < 0.01  # the mean of 100 fits has sd ~0.002
        assert 0.8 < auc.std() / se.mean() < 1.25


def test_matches_a_direct_maximisation_of_the_dorfman_alf_likelihood():
    scores, labels = hanley_mcneil()
    assert empirical_auc(scores, labels).auc == pytest.approx(0.893, abs=5e-4)  # Hanley & McNeil's value
    fit = fit_binormal(scores, labels)
    neg, pos = labroc_categories(scores, labels)
    assert fit.n_categories == 5 and list(neg) == HM_NORMAL and list(pos) == HM_ABNORMAL
    start = np.r_[1.0, 1.0, -0.5, 0.0, 0.5, 1.0]
    direct = minimize(lambda p: -reference_loglik(p, neg, pos), start, method="Nelder-Mead",
                      options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000, "maxfev": 20000})
    assert (fit.a, fit.b) == pytest.approx(tuple(direct.x[:2]), abs=1e-6)
    hess = np.array([approx_fprime(direct.x, lambda p, i=i: approx_fprime(p, reference_loglik, 1e-6, neg, pos)[i],
                                   1e-4) for i in range(6)])
    cov = np.linalg.inv(-(hess + hess.T) / 2)[:2, :2]
    a, b = direct.x[:2]
    grad = np.array([1, -a * b / (1 + b**2)]) / np.sqrt(1 + b**2)
    se = norm.pdf(a / np.sqrt(1 + b**2)) * np.sqrt(grad @ cov @ grad)
    assert fit.se == pytest.approx(se, rel=5e-4)


def test_analytic_gradient_and_hessian_match_finite_differences():
    neg, pos = labroc_categories(*binormal_sample(1.0, 0.7, 80, 3), max_categories=12)
    theta = _start(neg, pos, 0.75) + np.random.default_rng(0).normal(0, 0.1, neg.size + 1)
    value, grad, hess = _objective(theta, neg, pos)
    assert grad == pytest.approx(approx_fprime(theta, lambda t: _objective(t, neg, pos)[0], 1e-7), abs=1e-6)
    numeric = np.array([approx_fprime(theta, lambda t, i=i: _objective(t, neg, pos)[1][i], 1e-6)
                        for i in range(theta.size)])
    assert hess == pytest.approx(numeric, abs=1e-5)


def test_categories_are_truth_state_runs_with_ties_kept_together():
    neg, pos = labroc_categories([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], max_categories=None)
    assert (list(neg), list(pos)) == ([2, 0, 1, 0], [0, 1, 0, 2])
    neg, pos = labroc_categories([3, 1, 2, 1, 2], [0, 0, 1, 1, 1], max_categories=None)
    assert (list(neg), list(pos)) == ([1, 0, 1], [1, 2, 0])  # the tied score 1 held by both classes
    scores, labels = binormal_sample(1.0, 1.0, 200, 4)
    runs = 1 + np.count_nonzero(np.diff(labels[np.argsort(scores)]))
    assert labroc_categories(scores, labels, max_categories=None)[0].size == runs


def test_the_category_cap_merges_runs_and_keeps_the_extremes():
    scores, labels = binormal_sample(1.2, 0.8, 300, 5)
    full_neg, full_pos = labroc_categories(scores, labels, max_categories=None)
    neg, pos = labroc_categories(scores, labels, max_categories=40)
    assert full_neg.size > 150 and neg.size == 40
    assert (neg.sum(), pos.sum()) == (300, 300)
    assert (neg[0], pos[0], neg[-1], pos[-1]) == (full_neg[0], full_pos[0], full_neg[-1], full_pos[-1])


@pytest.mark.parametrize("seed", range(3))
def test_the_category_cap_barely_changes_the_estimate(seed):
    """Measured on 800 data sets of 300 + 300 cases (docs/statistics.md): |change| median 0.0004, max 0.0046
    (0.27 se); these three seeds: 0.0001-0.0003."""
    scores, labels = binormal_sample(1.2, 0.8, 300, seed)
    full = fit_binormal(scores, labels, max_categories=None)
    capped = fit_binormal(scores, labels)
    assert full.n_categories > 150 and capped.n_categories == 64
    assert abs(capped.auc - full.auc) < 0.3 * full.se
    assert capped.se == pytest.approx(full.se, rel=0.02)
    assert (capped.a, capped.b) == pytest.approx((full.a, full.b), abs=0.02)


def test_invariant_to_monotone_transforms_and_symmetric_under_reversal():
    scores, labels = binormal_sample(1.0, 1.3, 100, 6)
    fit = fit_binormal(scores, labels, max_categories=None)
    stretched = fit_binormal(np.exp(scores), labels, max_categories=None)
    assert (stretched.a, stretched.b, stretched.se) == pytest.approx((fit.a, fit.b, fit.se), rel=1e-5)
    reversed_fit = fit_binormal(-scores, labels, max_categories=None)
    assert reversed_fit.auc == pytest.approx(1 - fit.auc, abs=1e-6)
    assert reversed_fit.se == pytest.approx(fit.se, rel=1e-4)
    assert reversed_fit.a < 0 < fit.a


def test_interval_is_asymmetric_and_inside_the_unit_interval_near_one():
    fit = fit_binormal(*binormal_sample(3.0, 1.0, 40, 7))
    assert not fit.degenerate
    assert 0.9 < fit.ci_low < fit.auc < fit.ci_high < 1.0
    assert fit.auc - fit.ci_low > fit.ci_high - fit.auc


@pytest.mark.parametrize(
    ("scores", "labels", "reason"),
    [
        (np.r_[np.arange(5.0), np.arange(10.0, 15.0)], np.r_[np.zeros(5), np.ones(5)], "perfectly separated"),
        (np.r_[np.arange(10.0, 15.0), np.arange(5.0)], np.r_[np.zeros(5), np.ones(5)], "perfectly separated"),
        (np.ones(20), np.r_[np.zeros(10), np.ones(10)], "all scores are equal"),
        (np.arange(5.0), [0, 0, 1, 1, 0], "every empirical ROC point lies on the border"),
        ([0, 0, 1, 0, 1, 1], [0, 0, 0, 1, 1, 1], "only one threshold"),
        (np.r_[np.linspace(-2, 2, 60), 0.3 + np.linspace(-1e-2, 1e-2, 60)], np.r_[np.zeros(60), np.ones(60)],
         "the fit ran off"),
    ],
)
def test_degenerate_data_are_flagged_with_the_empirical_auc(scores, labels, reason):
    fit = fit_binormal(scores, labels)
    assert fit.degenerate and not fit.converged
    assert reason in fit.note and "reporting the empirical AUC" in fit.note
    assert fit.auc == empirical_auc(scores, labels).auc
    assert all(np.isnan([fit.a, fit.b, fit.se, fit.ci_low, fit.ci_high]))


GOOD = [0.1, 0.4, 0.35, 0.8]


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2, 0.3], [0, 0, 1, 1], r"scores: found 3 values for 4 labels; expected one score per label"),
        (GOOD, [0, 2, 1, 3], r"labels: found values 2, 3; expected only 0 and 1"),
        (np.arange(120.0), np.ones(120), r"labels: found only class 1 \(120 cases\); expected both 0 and 1"),
        (np.arange(7.0), np.zeros(7), r"labels: found only class 0 \(7 cases\); expected both 0 and 1"),
        ([0.1, 0.2, np.nan, 0.4], [0, 0, 1, 1], r"scores: found 1 non-finite value \(NaN or Inf\), first at index 2"),
        ([0.1, -np.inf, 0.3, 0.4], [0, 0, 1, 1], r"scores: found 1 non-finite value \(NaN or Inf\), first at index 1"),
        ([0.1, 0.2, 0.3, 0.5], [0, 1, 1, 1], r"labels: found 1 case of class 0; expected at least 2 cases of each"),
        ([0.1, 0.2, 0.3, 0.5], [0, 0, 0, 1], r"labels: found 1 case of class 1; expected at least 2 cases of each"),
        (["x", 0.2, 0.3, 0.5], [0, 0, 1, 1], r"scores: found non-numeric values; expected numbers"),
        (GOOD, np.ones((2, 2)), r"labels: found an array of shape \(2, 2\); expected a 1-D array"),
    ],
)
def test_bad_inputs_are_refused_with_one_clear_line(scores, labels, message):
    with pytest.raises(InputDataError, match=message):
        fit_binormal(scores, labels)


def test_bad_options_are_refused():
    with pytest.raises(InputDataError, match=r"max_categories: found 1; expected None or an integer of at least 2"):
        fit_binormal(GOOD, [0, 0, 1, 1], max_categories=1)
    with pytest.raises(InputDataError, match=r"confidence: found 0.0; expected a value strictly between 0 and 1"):
        fit_binormal(GOOD, [0, 0, 1, 1], confidence=0.0)

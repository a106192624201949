"""Empirical AUC, DeLong standard error and the paired DeLong test."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

import stainworth.metrics.roc as roc
from stainworth.errors import InputDataError
from stainworth.metrics import delong_covariance, delong_test, empirical_auc, roc_curve
from stainworth.metrics.roc import ZERO_SE_NOTE, confidence_quantile, sign_flip_p_value


def direct_delong(score_sets, labels):
    """DeLong et al. (1988) by their definitions, O(n0 n1): AUCs and covariance matrix."""
    labels = np.asarray(labels)
    v10, v01 = [], []
    for scores in score_sets:
        scores = np.asarray(scores, dtype=float)
        x, y = scores[labels == 1], scores[labels == 0]
        psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return v10.mean(axis=1), cov


def tied_scores(rng, n_neg, n_pos, shift):
    """Scores rounded to one decimal so that many ties occur, within and across classes."""
    scores = np.round(np.r_[rng.normal(0, 1, n_neg), rng.normal(shift, 1, n_pos)], 1)
    return scores, np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores, labels = tied_scores(rng, 40 + 7 * seed, 55 - 5 * seed, 0.3 * seed)
    order = rng.permutation(labels.size)
    estimate = empirical_auc(scores[order], labels[order])
    assert estimate.auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert (estimate.n_neg, estimate.n_pos) == (40 + 7 * seed, 55 - 5 * seed)


def test_a_tie_counts_one_half():
    assert empirical_auc([0.0, 1.0, 1.0, 2.0], [0, 0, 1, 1]).auc == 0.875
    assert empirical_auc([True, False, True, False], [1, 0, 1, 0]).auc == 1.0


def test_delong_se_and_covariance_match_the_direct_computation():
    rng = np.random.default_rng(7)
    a, labels = tied_scores(rng, 23, 17, 0.8)
    b = np.round(a + rng.normal(0, 0.7, a.size), 1)
    aucs, cov = direct_delong([a, b], labels)
    single = empirical_auc(a, labels)
    assert single.auc == pytest.approx(aucs[0], abs=1e-12)
    assert single.se == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-10)
    paired = delong_test(a, b, labels)
    assert paired.difference == pytest.approx(aucs[0] - aucs[1], abs=1e-12)
    assert paired.se == pytest.approx(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), rel=1e-10)
    assert paired.z == pytest.approx(paired.difference / paired.se)
    assert (paired.method, paired.note) == ("DeLong", "")
    assert paired.p_value == pytest.approx(2 * norm.sf(abs(paired.z)))


def test_delong_covariance_of_several_score_sets_matches_the_direct_computation():
    rng = np.random.default_rng(8)
    a, labels = tied_scores(rng, 31, 26, 0.9)
    sets = [a, np.round(a + rng.normal(0, 0.5, a.size), 1), rng.normal(0, 1, a.size)]
    aucs, cov = direct_delong(sets, labels)
    result = delong_covariance(np.vstack(sets), labels)
    np.testing.assert_allclose(result.aucs, aucs, atol=1e-12)
    np.testing.assert_allclose(result.covariance, cov, rtol=1e-10)
    assert (result.n_pos, result.n_neg) == (26, 31) and result.covariance.shape == (3, 3)
    assert delong_covariance(sets[:1], labels).covariance[0, 0] == pytest.approx(empirical_auc(a, labels).se ** 2)


@pytest.mark.parametrize(("score_sets", "message"), [
    (np.ones(4), r"score_sets: found an array of shape \(4,\); expected \(k, N\)"),
    (np.ones((0, 4)), r"score_sets: found an array of shape \(0, 4\)"),
    ([["a", "b", "c", "d"]], r"score_sets: found non-numeric values"),
    ([[0.1, 0.2, 0.3, 0.4], [0.1, np.nan, 0.3, 0.4]], r"score_sets\[1\]: found 1 non-finite value"),
    (np.ones((2, 3)), r"score_sets\[0\]: found 3 values for 4 labels"),
])
def test_delong_covariance_refuses_bad_score_sets(score_sets, message):
    with pytest.raises(InputDataError, match=message):
        delong_covariance(score_sets, [0, 0, 1, 1])


def test_identical_score_sets_differ_by_zero_with_permutation_p_one():
    scores, labels = tied_scores(np.random.default_rng(3), 50, 50, 1.0)
    result = delong_test(scores, scores, labels)
    assert result.auc_a == result.auc_b and result.difference == 0.0 and result.p_value == 1.0
    assert np.isnan([result.se, result.z, result.ci_low, result.ci_high]).all()
    assert result.method == "sign-flip permutation (Monte Carlo, 9999 assignments)"
    assert "DeLong's se of the difference is 0" in result.note


def test_perfect_against_constant_scorer_gives_a_small_permutation_p_not_zero():
    """10 + 10 cases: DeLong's se is 0 for both scorers; the sign-flip test gives p = (count + 1) / 10,000."""
    labels = np.r_[np.zeros(10, int), np.ones(10, int)]
    perfect, constant = labels * 1.0 + np.linspace(0, 0.5, 20), np.full(20, 0.7)
    result = delong_test(perfect, constant, labels)
    assert (result.auc_a, result.auc_b, result.difference) == (1.0, 0.5, 0.5)
    assert np.isnan(result.se) and 0 < result.p_value < 0.01
    assert result.p_value * 10_000 == pytest.approx(round(result.p_value * 10_000))  # (count + 1) / (9999 + 1)
    assert result.p_value == delong_test(perfect, constant, labels).p_value  # seeded
    assert result.method.startswith("sign-flip permutation (Monte Carlo")


def test_small_samples_are_enumerated_exactly():
    """6 + 6 cases: all 2^12 = 4096 swaps; the count is checked by brute force with the pairwise AUC."""
    labels = np.r_[np.zeros(6, int), np.ones(6, int)]
    perfect, constant = labels + np.linspace(0, 0.5, 12), np.full(12, 0.6)
    test = sign_flip_p_value(perfect, constant, labels == 1)
    assert test.method == "sign-flip permutation (exact, 4096 assignments)"
    assert (test.assignments, test.exact) == (4096, True)

    def pairwise_auc(scores):
        pos, neg = scores[labels == 1], scores[labels == 0]
        return np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))

    count = 0
    for mask in range(4096):
        swap = ((mask >> np.arange(12)) & 1).astype(bool)
        a, b = np.where(swap, constant, perfect), np.where(swap, perfect, constant)
        count += abs(pairwise_auc(a) - pairwise_auc(b)) >= 0.5 - 1e-12
    assert test.p_value == count / 4096 == 2 / 4096  # only the identity and the swap of every case reach 0.5
    assert delong_test(perfect, constant, labels).p_value == test.p_value
    assert roc.EXACT_PERMUTATION_CASES == 16


def test_clearly_different_score_sets_give_a_small_p():
    rng = np.random.default_rng(11)
    labels = np.r_[np.zeros(150, int), np.ones(150, int)]
    strong = labels * 1.5 + rng.normal(0, 1, labels.size)
    weak = labels * 0.3 + rng.normal(0, 1, labels.size)
    result = delong_test(strong, weak, labels)
    assert result.difference > 0.15
    assert result.p_value < 1e-4
    assert 0 < result.ci_low < result.difference < result.ci_high
    swapped = delong_test(weak, strong, labels)
    assert swapped.difference == pytest.approx(-result.difference)
    assert swapped.p_value == pytest.approx(result.p_value)


def test_paired_test_holds_its_size_under_the_null():
    labels = np.r_[np.zeros(60, int), np.ones(60, int)]
    rejections = 0
    for seed in range(200):
        rng = np.random.default_rng(100 + seed)
        signal = labels * 1.0 + rng.normal(0, 1, labels.size)
        a = signal + rng.normal(0, 0.7, labels.size)
        b = signal + rng.normal(0, 0.7, labels.size)
        rejections += delong_test(a, b, labels).p_value < 0.05
    assert 0.01 <= rejections / 200 <= 0.10


def test_confidence_interval_covers_the_true_auc_at_the_nominal_rate():
    shift = 1.2
    true_auc = norm.cdf(shift / np.sqrt(2))
    labels = np.r_[np.zeros(60, int), np.ones(60, int)]
    covered = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        estimate = empirical_auc(labels * shift + rng.normal(0, 1, labels.size), labels)
        assert 0 <= estimate.ci_low < estimate.auc < estimate.ci_high <= 1
        covered.append(estimate.ci_low <= true_auc <= estimate.ci_high)
    assert 0.90 <= np.mean(covered) <= 0.99


def test_logit_interval_stays_inside_the_unit_interval():
    labels = np.r_[np.zeros(8, int), np.ones(8, int)]
    scores = np.r_[np.arange(8.0), np.arange(7.0, 15.0)]
    estimate = empirical_auc(scores, labels)
    assert estimate.auc == pytest.approx(63.5 / 64)
    assert estimate.auc - estimate.ci_low > estimate.ci_high - estimate.auc
    assert estimate.ci_high < 1.0


def test_perfect_separation_has_zero_se_a_point_interval_and_says_so():
    estimate = empirical_auc([0.1, 0.2, 0.3, 0.8, 0.9], [0, 0, 0, 1, 1])
    assert (estimate.auc, estimate.se, estimate.ci_low, estimate.ci_high) == (1.0, 0.0, 1.0, 1.0)
    assert estimate.note == ZERO_SE_NOTE and "no variance information" in estimate.note
    assert empirical_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).note == ""


def test_confidence_level_sets_the_width():
    scores, labels = tied_scores(np.random.default_rng(5), 40, 40, 1.0)
    narrow, wide = empirical_auc(scores, labels, confidence=0.5), empirical_auc(scores, labels)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high
    assert confidence_quantile(0.95) == pytest.approx(1.959964, abs=1e-6)


GOOD = [0.1, 0.4, 0.35, 0.8]


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2, 0.3], [0, 0, 1, 1], r"scores: found 3 values for 4 labels; expected one score per label"),
        (GOOD, [0, 2, 1, -1], r"labels: found values -1, 2; expected only 0 and 1"),
        (GOOD, [0, 0.5, 1, 1], r"labels: found values 0.5; expected only 0 and 1"),
        (np.arange(120.0), np.ones(120), r"labels: found only class 1 \(120 cases\); expected both 0 and 1"),
        ([], [], r"labels: found no cases; expected both 0 and 1"),
        ([0.1, np.nan, 0.3, np.inf], [0, 0, 1, 1],
         r"scores: found 2 non-finite values \(NaN or Inf\), first at index 1"),
        ([0.1, 0.2, 0.3], [0, 1, 1], r"labels: found 1 case of class 0; expected at least 2 cases of each class"),
        (["a", "b", "c", "d"], [0, 0, 1, 1], r"scores: found non-numeric values; expected numbers"),
        (GOOD, ["no", "no", "yes", "yes"], r"labels: found non-numeric values; expected numbers"),
        (np.ones((2, 2)), [0, 0, 1, 1], r"scores: found an array of shape \(2, 2\); expected a 1-D array"),
    ],
)
def test_bad_inputs_are_refused_with_one_clear_line(scores, labels, message):
    with pytest.raises(InputDataError, match=message):
        empirical_auc(scores, labels)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_confidence_outside_the_unit_interval_is_refused(confidence):
    with pytest.raises(InputDataError, match=rf"confidence: found {confidence}; expected a value strictly between"):
        empirical_auc(GOOD, [0, 0, 1, 1], confidence=confidence)


def test_paired_test_names_the_bad_score_set():
    with pytest.raises(InputDataError, match=r"scores_b: found 3 values for 4 labels"):
        delong_test(GOOD, GOOD[:3], [0, 0, 1, 1])
    with pytest.raises(InputDataError, match=r"scores_a: found 1 non-finite value \(NaN or Inf\), first at index 0"):
        delong_test([np.nan, 0.2, 0.3, 0.4], GOOD, [0, 0, 1, 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_curve_matches_sklearn_and_its_area_is_the_empirical_auc(seed):
    from sklearn.metrics import roc_curve as sk_roc_curve

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounded: many ties
    fpr, tpr, thresholds = roc_curve(scores, labels)
    sk_fpr, sk_tpr, sk_thresholds = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_array_equal(thresholds[1:], sk_thresholds[1:])
    assert np.isfinite(thresholds).all() and thresholds[0] > scores.max()
    assert np.trapezoid(tpr, fpr) == pytest.approx(empirical_auc(scores, labels).auc)


def test_roc_curve_thinned_keeps_both_ends():
    rng = np.random.default_rng(3)
    labels = np.r_[np.zeros(500), np.ones(500)]
    fpr, tpr, thresholds = roc_curve(rng.normal(labels, 1.0), labels, max_points=50)
    assert fpr.size <= 50 and (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(thresholds) < 0) and np.all(np.diff(fpr) >= 0)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(roc).failed == 0

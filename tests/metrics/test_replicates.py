"""Combining retrained networks tested on one shared test set (Obuchowski-Rockette-Hillis), Holm's correction.

The simulations follow the design point of docs/statistics.md: 3 replicates, 200 + 200 shared test
items, training SD of the AUC (or of the mean Dice) 0, 0.04 and 0.12. Scores are

    score_{m,r,i} = (mu_m + u_{m,r}) label_i + item_i + noise_{m,r,i}

with item_i shared by every training and modality (correlated test errors), u ~ N(0, sigma_u) a
training's luck and noise ~ N(0, 1); the expected AUC over trainings is
Phi(mu / sqrt(2 (1 + 1) + sigma_u^2)), and sigma_u is set so that a training's AUC has the wanted SD.
"""

import doctest
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from scipy.stats import t as student_t

import stainworth.metrics.replicates as replicates
from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics import combine_replicates, delong_covariance, holm, mean_covariance

R, N = 3, 200
NOISE_VARIANCE = 2 * (1 + 1.0)  # 2 (1 + sigma_noise^2): variance of a positive-minus-negative score difference
HERMITE_X, HERMITE_W = np.polynomial.hermite_e.hermegauss(80)
HERMITE_W = HERMITE_W / HERMITE_W.sum()


def shift_for(auc, sigma_u):
    """Mean shift mu whose expected AUC over trainings is ``auc``."""
    return float(norm.ppf(auc) * np.sqrt(NOISE_VARIANCE + sigma_u**2))


def auc_sd(sigma_u, auc):
    """SD over trainings of a training's AUC Phi((mu + u) / sqrt(NOISE_VARIANCE))."""
    values = norm.cdf((shift_for(auc, sigma_u) + sigma_u * HERMITE_X) / np.sqrt(NOISE_VARIANCE))
    return float(np.sqrt(HERMITE_W @ (values - HERMITE_W @ values) ** 2))


def sigma_for(sd, auc):
    return 0.0 if sd == 0 else brentq(lambda sigma: auc_sd(sigma, auc) - sd, 1e-6, 20.0)


def simulate_scores(rng, shifts, sigma_u):
    """(len(shifts), 2N) scores on one shared test set (N negatives, N positives) and the labels."""
    labels = np.r_[np.zeros(N), np.ones(N)]
    item = rng.normal(0.0, 1.0, 2 * N)
    luck = rng.normal(0.0, sigma_u, len(shifts)) if sigma_u > 0 else np.zeros(len(shifts))
    scores = (np.asarray(shifts) + luck)[:, None] * labels + item + rng.normal(0.0, 1.0, (len(shifts), 2 * N))
    return scores, labels


def differences(values, covariance):
    """The first R statistics minus the next R, with their covariance."""
    contrast = np.hstack([np.eye(R), -np.eye(R), np.zeros((R, values.size - 2 * R))])
    return contrast @ values, contrast @ covariance @ contrast.T


def classification_runs(sd, runs, seed):
    """Per run: label-free (AUC 0.75), a stain 0.05 better, a stain as good; all R replicates, shared items."""
    sigma_u = sigma_for(sd, 0.75)
    shifts = [shift_for(0.80, sigma_u)] * R + [shift_for(0.75, sigma_u)] * R + [shift_for(0.75, sigma_u)] * R
    outcomes = {"unit": [], "unit_satterthwaite": [], "unit_replicates": [], "unit_width": [],
                "unit_replicates_width": [], "difference": [], "null_called": [], "unit_test_only": [],
                "difference_test_only": [], "null_called_test_only": []}
    for run in range(runs):
        scores, labels = simulate_scores(np.random.default_rng(seed + run), shifts, sigma_u)
        result = delong_covariance(scores, labels)
        aucs, cov = result.aucs, result.covariance
        label_free = slice(R, 2 * R)
        unit = combine_replicates(aucs[label_free], cov[label_free, label_free], df_method="components")
        outcomes["unit"].append(unit.ci_low <= 0.75 <= unit.ci_high)
        outcomes["unit_width"].append(unit.ci_high - unit.ci_low)
        unit = combine_replicates(aucs[label_free], cov[label_free, label_free], df_method="replicates")
        outcomes["unit_replicates"].append(unit.ci_low <= 0.75 <= unit.ci_high)
        outcomes["unit_replicates_width"].append(unit.ci_high - unit.ci_low)
        unit = combine_replicates(aucs[label_free], cov[label_free, label_free])
        outcomes["unit_satterthwaite"].append(unit.ci_low <= 0.75 <= unit.ci_high)
        outcomes["unit_test_only"].append(abs(aucs[R] - 0.75) <= 1.96 * math.sqrt(cov[R, R]))
        gain = combine_replicates(*differences(aucs, cov))
        outcomes["difference"].append(gain.ci_low <= 0.05 <= gain.ci_high)
        order = np.r_[2 * R:3 * R, R:2 * R]  # the stain as good as label-free, minus label-free
        null_values, null_cov = differences(aucs[order], cov[np.ix_(order, order)])
        outcomes["null_called"].append(combine_replicates(null_values, null_cov).p_value < 0.05)
        first_values, first_cov = differences(aucs, cov)
        outcomes["difference_test_only"].append(abs(first_values[0] - 0.05) <= 1.96 * math.sqrt(first_cov[0, 0]))
        outcomes["null_called_test_only"].append(abs(null_values[0]) > 1.96 * math.sqrt(null_cov[0, 0]))
    return {name: float(np.mean(values)) for name, values in outcomes.items()}


def dice_runs(sd, runs, seed):
    """Per run: per-image Dice-like scores of label-free (mean 0.75), a stain 0.02 better, a stain as good."""
    means = [0.77] * R + [0.75] * R + [0.75] * R
    outcomes = {"unit": [], "unit_width": [], "unit_replicates_width": [], "difference": [], "null_called": [],
                "unit_test_only": []}
    for run in range(runs):
        rng = np.random.default_rng(seed + run)
        image = rng.normal(0.0, 0.1, 2 * N)  # shared difficulty of each test image
        luck = rng.normal(0.0, sd, len(means)) if sd > 0 else np.zeros(len(means))
        columns = (np.asarray(means) + luck)[None, :] + image[:, None] + rng.normal(0.0, 0.08, (2 * N, len(means)))
        result = mean_covariance(columns)
        values, cov = result.means, result.covariance
        label_free = slice(R, 2 * R)
        unit = combine_replicates(values[label_free], cov[label_free, label_free], df_method="components")
        outcomes["unit"].append(unit.ci_low <= 0.75 <= unit.ci_high)
        outcomes["unit_width"].append(unit.ci_high - unit.ci_low)
        wide = combine_replicates(values[label_free], cov[label_free, label_free], df_method="replicates")
        outcomes["unit_replicates_width"].append(wide.ci_high - wide.ci_low)
        outcomes["unit_test_only"].append(abs(values[R] - 0.75) <= 1.96 * math.sqrt(cov[R, R]))
        gain = combine_replicates(*differences(values, cov))
        outcomes["difference"].append(gain.ci_low <= 0.02 <= gain.ci_high)
        order = np.r_[2 * R:3 * R, R:2 * R]
        outcomes["null_called"].append(combine_replicates(*differences(values[order], cov[np.ix_(order, order)]))
                                       .p_value < 0.05)
    return {name: float(np.mean(values)) for name, values in outcomes.items()}


@pytest.mark.parametrize("sd", [0.0, 0.04, 0.12])
def test_auc_intervals_cover_and_null_differences_are_rarely_called(sd):
    """3,000 seeded runs at each training SD 0 / 0.04 / 0.12. Measured (docs/statistics.md): unit AUC
    (``components``) 0.976 / 0.972 / 0.943, difference 0.982 / 0.943 / 0.950, null called 0.016 / 0.055 / 0.052."""
    rates = classification_runs(sd, 3000, seed=1000 + int(1000 * sd))
    assert rates["unit"] >= 0.93
    assert rates["difference"] >= 0.93
    assert rates["null_called"] <= 0.07


@pytest.mark.parametrize("sd", [0.0, 0.04, 0.12])
def test_dice_intervals_cover_and_null_differences_are_rarely_called(sd):
    """2,000 runs. Measured: unit (``components``) 0.972 / 0.953 / 0.947, difference 0.986 / 0.946 / 0.947,
    null called 0.012 / 0.049 / 0.050."""
    rates = dice_runs(sd, 2000, seed=5000 + int(1000 * sd))
    assert rates["unit"] >= 0.93
    assert rates["difference"] >= 0.93
    assert rates["null_called"] <= 0.07


def test_test_only_intervals_fail_the_same_check_when_training_varies():
    """The check can fail: one training's test-set interval at training SD 0.12 (the old evaluation).

    Measured: unit AUC 0.28, difference 0.23, null called 0.80; unit Dice 0.07."""
    rates = classification_runs(0.12, 600, seed=1120)
    assert rates["unit_test_only"] < 0.5 and rates["difference_test_only"] < 0.5
    assert rates["null_called_test_only"] > 0.5
    assert dice_runs(0.12, 300, seed=5120)["unit_test_only"] < 0.5


def test_components_intervals_of_one_modality_are_narrower_than_g_minus_1_when_training_varies_little():
    """Why the tables use ``components``: G - 1 df on the whole variance is twice as wide as needed
    when the shared test-set part dominates, and over-covers (1.000)."""
    auc = classification_runs(0.0, 600, seed=1000)
    assert auc["unit_width"] < 0.7 * auc["unit_replicates_width"] and auc["unit_replicates"] > 0.99
    assert dice_runs(0.0, 300, seed=5000)["unit_width"] < 0.7 * dice_runs(0.0, 300, seed=5000)["unit_replicates_width"]


def test_satterthwaite_df_under_covers_one_modality_when_training_varies():
    """Why the tables do not use the plug-in Satterthwaite df for one modality: it covers 0.90 at SD 0.12."""
    assert classification_runs(0.12, 600, seed=1120)["unit_satterthwaite"] < 0.93


def test_formula_by_hand():
    values = np.array([0.80, 0.84, 0.78])
    covariance = np.full((3, 3), 1e-4) + np.eye(3) * 2e-4  # V = 3e-4, C = 1e-4
    result = combine_replicates(values, covariance)
    s2 = np.var(values, ddof=1)
    se2 = s2 / 3 + 1e-4
    df = se2**2 / ((s2 / 3) ** 2 / 2)
    assert result.estimate == pytest.approx(values.mean())
    assert result.se == pytest.approx(math.sqrt(se2)) and result.df == pytest.approx(df)
    half = student_t.ppf(0.975, df) * math.sqrt(se2)
    assert (result.ci_low, result.ci_high) == pytest.approx((values.mean() - half, values.mean() + half))
    assert result.p_value == pytest.approx(2 * student_t.sf(values.mean() / math.sqrt(se2), df))
    assert result.training_sd == pytest.approx(math.sqrt(s2 - 3e-4 + 1e-4))
    assert result.se_test == pytest.approx(math.sqrt(3e-4 / 3 + 2 * 1e-4 / 3))
    assert result.se**2 == pytest.approx(result.training_sd**2 / 3 + result.se_test**2)
    assert (result.replicates, result.clusters, result.note) == (3, 3, "")
    assert result.method == "Obuchowski-Rockette-Hillis over 3 trainings, Satterthwaite df"
    against = combine_replicates(values, covariance, null=0.8)
    assert against.p_value == pytest.approx(2 * student_t.sf(abs(values.mean() - 0.8) / math.sqrt(se2), df))
    conservative = combine_replicates(values, covariance, df_method="replicates")
    assert conservative.df == 2 and conservative.se == result.se
    assert conservative.ci_high - conservative.estimate == pytest.approx(student_t.ppf(0.975, 2) * result.se)
    parts = combine_replicates(values, covariance, df_method="components")
    half = math.sqrt(student_t.ppf(0.975, 2) ** 2 * s2 / 3 + norm.ppf(0.975) ** 2 * 1e-4)
    assert parts.se == result.se and parts.ci_high - parts.estimate == pytest.approx(half)
    assert student_t.ppf(0.975, parts.df) * parts.se == pytest.approx(half)  # the equivalent df
    assert parts.p_value == pytest.approx(2 * student_t.sf(values.mean() / parts.se, parts.df))


def test_one_training_covers_test_set_sampling_only():
    result = combine_replicates([0.8], [[4e-4]])
    assert (result.estimate, result.se, result.df) == (0.8, 0.02, math.inf)
    assert result.ci_low == pytest.approx(0.8 - 1.959964 * 0.02)
    assert result.note == replicates.TEST_ONLY_NOTE and "test-set sampling only" in result.note
    assert math.isnan(result.training_sd) and result.se_test == 0.02 and result.replicates == 1


def test_replicates_closer_than_test_sampling_truncate_the_training_variance():
    covariance = np.full((3, 3), 1e-4) + np.eye(3) * 3e-4
    result = combine_replicates([0.800, 0.801, 0.799], covariance)
    assert result.training_sd == 0.0 and result.se == pytest.approx(result.se_test)
    assert result.se == pytest.approx(math.sqrt(4e-4 / 3 + 2 * 1e-4 / 3))
    assert result.note == replicates.TRUNCATED_NOTE
    assert math.isfinite(result.df) and result.df > 1000  # Hillis' df with the observed spread: nearly normal
    assert combine_replicates([0.8, 0.8, 0.8], covariance).df == math.inf


def test_a_negative_mean_covariance_counts_as_zero():
    covariance = np.array([[4e-4, -1e-4], [-1e-4, 4e-4]])
    result = combine_replicates([0.70, 0.76], covariance)
    assert result.se == pytest.approx(math.sqrt(np.var([0.70, 0.76], ddof=1) / 2))
    assert result.se_test == pytest.approx(math.sqrt(4e-4 / 2))


def test_nested_trainings_average_within_their_subset_first():
    rng = np.random.default_rng(3)
    values = rng.normal(0.8, 0.03, 6)
    root = rng.normal(0, 0.01, (6, 6))
    covariance = root @ root.T + 1e-4
    subsets = [0, 0, 0, 1, 1, 2]
    result = combine_replicates(values, covariance, clusters=subsets)
    averaging = np.array([[1 / 3] * 3 + [0] * 3, [0] * 3 + [0.5, 0.5, 0], [0] * 5 + [1]])
    expected = combine_replicates(averaging @ values, averaging @ covariance @ averaging.T)
    assert (result.estimate, result.se, result.df) == pytest.approx((expected.estimate, expected.se, expected.df))
    assert (result.replicates, result.clusters) == (6, 3)
    assert "over 3 clusters" in result.method


def test_no_variance_information_gives_no_p_value_and_says_so():
    same = combine_replicates([0.5, 0.5, 0.5], np.zeros((3, 3)), null=0.5)
    assert (same.se, same.p_value, same.ci_low, same.ci_high) == (0.0, 1.0, 0.5, 0.5)
    different = combine_replicates([0.5, 0.5, 0.5], np.zeros((3, 3)), null=0.4)
    assert math.isnan(different.p_value) and replicates.ZERO_SE_NOTE in different.note


@pytest.mark.parametrize(("values", "covariance", "kwargs", "error", "message"), [
    ([], np.zeros((0, 0)), {}, InputDataError, r"values: found an array of shape \(0,\); expected \(G,\)"),
    ([0.1, 0.2], np.eye(3), {}, InputDataError, r"covariance: found shape \(3, 3\) for 2 values; expected \(2, 2\)"),
    ([0.1, np.nan], np.eye(2), {}, InputDataError, r"values, covariance: found NaN or infinite entries"),
    ([0.1, 0.2], -np.eye(2), {}, InputDataError, r"covariance: found a negative variance -1 on the diagonal"),
    ([0.1, 0.2], np.eye(2), {"clusters": [0]}, InputDataError, r"clusters: found 1 labels for 2 values"),
    ([0.1, 0.2], np.eye(2), {"confidence": 1.5}, InputDataError, r"confidence: found 1.5; expected a value"),
    ([0.1, 0.2], np.eye(2), {"df_method": "kenward"}, ConfigError,
     r"df_method: found 'kenward'; expected one of satterthwaite, replicates"),
])
def test_bad_inputs_are_refused(values, covariance, kwargs, error, message):
    with pytest.raises(error, match=message):
        combine_replicates(values, covariance, **kwargs)


def test_mean_covariance_is_the_column_covariance_over_n_on_the_defined_items():
    rng = np.random.default_rng(4)
    columns = rng.normal(0.7, 0.1, (50, 3))
    columns[[4, 9], [0, 2]] = np.nan
    result = mean_covariance(columns)
    kept = np.delete(columns, [4, 9], axis=0)
    assert (result.n, result.n_dropped) == (48, 2)
    np.testing.assert_allclose(result.means, kept.mean(axis=0))
    np.testing.assert_allclose(result.covariance, np.cov(kept, rowvar=False) / 48)


@pytest.mark.parametrize(("columns", "message"), [
    (np.ones(5), r"columns: found an array of shape \(5,\); expected \(n items, k columns\)"),
    ([["a", "b"]], r"columns: found non-numeric values"),
    ([[1.0, np.inf], [1.0, 2.0]], r"columns: found infinite values"),
    ([[1.0, np.nan], [1.0, 2.0]], r"columns: found 1 item\(s\) with every column defined among 2; expected at least 2"),
])
def test_mean_covariance_refuses_bad_columns(columns, message):
    with pytest.raises(InputDataError, match=message):
        mean_covariance(columns)


def test_holm_step_down():
    """Holm (1979): sorted p times (m, m - 1, ...), made monotone, capped at 1; NaN left out of m."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, np.nan, 0.01]), [0.5, np.nan, 0.02])
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])
    assert holm([]).size == 0 and holm([0.03]).tolist() == [0.03]


@pytest.mark.parametrize(("p_values", "message"), [
    ([0.1, 1.2], r"p_values: found 1.2; expected values in \[0, 1\]"),
    ([[0.1]], r"p_values: found an array of shape \(1, 1\)"),
])
def test_holm_refuses_bad_p_values(p_values, message):
    with pytest.raises(InputDataError, match=message):
        holm(p_values)


def test_docstring_examples():
    assert doctest.testmod(replicates, extraglobs={"np": np}).failed == 0


def test_rounding_below_zero_on_the_diagonal_is_accepted():
    """Contrasts of equal columns give variances like -1e-20; they count as 0, not as an invalid covariance."""
    result = combine_replicates([0.05, 0.05], [[-1.4e-20, 3e-21], [3e-21, 2.7e-20]], null=0.05)
    assert result.estimate == 0.05 and result.se == pytest.approx(0.0, abs=1e-10) and result.p_value == 1.0

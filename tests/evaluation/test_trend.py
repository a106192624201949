"""The trend of (virtual stain − label-free) over log capacity: weighted least squares, its interval, the sentence."""

import numpy as np
import pandas as pd
import pytest

from stainworth.evaluation.trend import capacity_trend, trend_sentence

CAPACITIES = [417, 24_321, 11_170_753, 42_495_937]


def comparisons(differences, se, metric="auc", modality="virtual_effunet", train_size=np.nan):
    return pd.DataFrame({"modality": modality, "metric": metric, "train_size": train_size,
                         "capacity": CAPACITIES[:len(differences)], "difference": differences, "se": se,
                         "ci_low": np.subtract(differences, 1.96 * np.asarray(se, float)),
                         "ci_high": np.add(differences, 1.96 * np.asarray(se, float))})


def test_equal_weights_give_the_ordinary_least_squares_slope_and_its_standard_error():
    differences = [0.20, 0.12, 0.02, -0.01]
    trend = capacity_trend(comparisons(differences, [0.01] * 4), "virtual_effunet", "auc")
    x = np.log10(CAPACITIES)
    slope, _ = np.polyfit(x, differences, 1)
    assert trend.slope == pytest.approx(slope)
    assert trend.se == pytest.approx(0.01 / np.sqrt(np.sum((x - x.mean()) ** 2)))
    assert trend.ci_high < 0 and trend.direction == "shrinks" and trend.capacities == 4
    assert trend_sentence(trend).endswith("the advantage shrinks as capacity grows, as in the study.")


def test_noisy_differences_give_no_trend_and_say_so():
    trend = capacity_trend(comparisons([0.01, -0.03, 0.02, -0.01], [0.03] * 4), "virtual_effunet", "auc")
    assert trend.ci_low < 0 < trend.ci_high and trend.direction == "none"
    assert "no capacity effect can be told apart from none at this scale" in trend_sentence(trend)


def test_scatter_beyond_the_standard_errors_widens_the_interval():
    differences = [0.10, -0.10, 0.15, -0.12]
    trend = capacity_trend(comparisons(differences, [0.01] * 4), "virtual_effunet", "auc")
    x = np.log10(CAPACITIES)
    slope, intercept = np.polyfit(x, differences, 1)
    chi2 = np.sum((np.asarray(differences) - (intercept + slope * x)) ** 2) / 0.01**2
    naive = 0.01 / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert trend.se == pytest.approx(naive * np.sqrt(chi2 / 2)) and trend.se > 5 * naive
    assert trend.direction == "none"


def test_precise_points_weigh_more():
    rising = comparisons([0.0, 0.1, 0.2, -0.5], [0.01, 0.01, 0.01, 1.0])
    assert capacity_trend(rising, "virtual_effunet", "auc").slope > 0


def test_bootstrap_rows_take_their_error_from_the_interval():
    table = comparisons([0.10, 0.05, 0.0], [0.02] * 3, metric="dice").assign(se=np.nan)
    trend = capacity_trend(table, "virtual_effunet", "dice")
    expected = capacity_trend(comparisons([0.10, 0.05, 0.0], [0.02] * 3, metric="dice"), "virtual_effunet", "dice")
    assert trend.se == pytest.approx(expected.se, rel=1e-4) and trend.slope == pytest.approx(expected.slope)


@pytest.mark.parametrize("table", [
    None,
    comparisons([0.1, 0.0], [0.01, 0.01]),  # two capacities
    comparisons([0.1, 0.0, 0.2], [0.01, 0.0, np.nan]).assign(ci_low=np.nan),  # one usable error
    comparisons([0.1, 0.0, 0.2], [0.01] * 3, train_size=100),  # learnable rows only
    comparisons([0.1, 0.0, 0.2], [0.01] * 3, modality="virtual_pix2pixhd"),
])
def test_too_little_to_fit_gives_none(table):
    assert capacity_trend(table, "virtual_effunet", "auc") is None

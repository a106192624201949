import numpy as np
import pytest

from stainworth.analysis.reference_segmentation import classical_dice, mean_with_interval
from stainworth.errors import InputDataError


def test_classical_dice_is_one_on_a_clean_disc():
    rows, cols = np.mgrid[:128, :128]
    disc = (rows - 60.0) ** 2 + (cols - 70.0) ** 2 < 25**2
    assert classical_dice(np.where(disc, 1000.0, 100.0), disc, pixel_size_um=0.32, marker="fill") == 1.0


def test_classical_dice_drops_when_half_the_nucleus_is_missed():
    rows, cols = np.mgrid[:128, :128]
    truth = (rows - 64.0) ** 2 + (cols - 40.0) ** 2 < 20**2
    other = (rows - 64.0) ** 2 + (cols - 96.0) ** 2 < 20**2
    dice = classical_dice(np.where(truth, 1.0, 0.0), truth | other, pixel_size_um=0.32, marker="fill")
    assert dice == pytest.approx(2 / 3, abs=0.01)


def test_mean_with_interval_is_a_t_interval():
    result = mean_with_interval(np.array([0.8, 0.9, 1.0]))
    half = 4.302652729911275 * 0.1 / np.sqrt(3)
    assert (result.estimate, result.n) == (pytest.approx(0.9), 3)
    assert result.ci_low == pytest.approx(0.9 - half) and result.ci_high == pytest.approx(0.9 + half)
    single = mean_with_interval(np.array([0.7]))
    assert single.estimate == 0.7 and np.isnan(single.ci_low) and np.isnan(single.ci_high)
    assert mean_with_interval(np.array([-0.5, 0.9, 1.0]), bounds=(0.0, 1.0)).ci_low == 0.0


def test_mean_with_interval_refuses_no_values_and_nan():
    with pytest.raises(InputDataError, match="expected at least one finite value"):
        mean_with_interval(np.array([]))
    with pytest.raises(InputDataError, match="expected at least one finite value"):
        mean_with_interval(np.array([0.5, np.nan]))

"""Image-quality metrics against hand-computed values, degenerate images and refusals."""

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from stainworth.errors import InputDataError
from stainworth.stainers.quality import (
    MASKED_METRICS,
    METRICS,
    MIN_NUCLEUS_PIXELS,
    PSNR_CAP_DB,
    data_range,
    image_quality,
    mse,
    nrmse,
    pearson,
    psnr,
    ssim,
    summarise,
)


def image(seed=0, shape=(64, 48)):
    return np.random.default_rng(seed).random(shape).astype(np.float32) * 10.0


def test_identical_images():
    target = image()
    assert ssim(target, target) == pytest.approx(1.0, abs=1e-9)
    assert pearson(target, target) == pytest.approx(1.0, abs=1e-12)
    assert mse(target, target) == 0.0 and nrmse(target, target) == 0.0
    assert psnr(target, target) == float("inf")


def test_hand_computed_values():
    target = np.array([[1.0, 2.0], [3.0, 5.0]])
    prediction = np.array([[2.0, 2.0], [3.0, 3.0]])  # errors 1, 0, 0, -2
    assert data_range(target) == 4.0
    assert mse(prediction, target) == pytest.approx(5 / 4)
    assert nrmse(prediction, target) == pytest.approx(math.sqrt(5 / 4) / 4)
    assert psnr(prediction, target) == pytest.approx(10 * math.log10(16 / (5 / 4)))
    # pearson: prediction deviations (-0.5, -0.5, 0.5, 0.5), target deviations (-1.75, -0.75, 0.25, 2.25)
    assert pearson(prediction, target) == pytest.approx(2.5 / math.sqrt(1.0 * 8.75))
    assert pearson(-target, target) == pytest.approx(-1.0)


def test_known_offset():
    target = image(1)
    prediction = target + 0.5
    spread = float(target.max() - target.min())
    assert mse(prediction, target) == pytest.approx(0.25, rel=1e-6)
    assert nrmse(prediction, target) == pytest.approx(0.5 / spread, rel=1e-6)
    assert psnr(prediction, target) == pytest.approx(10 * math.log10(spread**2 / 0.25), rel=1e-6)
    assert pearson(prediction, target) == pytest.approx(1.0, abs=1e-9)
    assert 0 < ssim(prediction, target) < 1


def test_ssim_is_wang_et_al_with_the_target_range():
    target, prediction = image(2), image(3)
    expected = structural_similarity(prediction.astype(np.float64), target.astype(np.float64),
                                     data_range=float(target.max() - target.min()), gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim(prediction, target) == pytest.approx(expected)
    assert abs(ssim(prediction, target)) < 0.1  # independent noise images


def test_constant_images_are_guarded():
    constant = np.full((20, 20), 3.0)
    other = constant + np.linspace(0, 1, 400).reshape(20, 20)
    assert data_range(constant) == 1.0
    assert pearson(other, constant) == 0.0 and pearson(constant, other) == 0.0
    assert pearson(constant, constant) == 0.0
    error = float(np.mean((other - constant) ** 2))
    assert nrmse(other, constant) == pytest.approx(math.sqrt(error))  # range 1: error in the image's units
    assert psnr(other, constant) == pytest.approx(10 * math.log10(1 / error))
    assert ssim(constant, constant) == pytest.approx(1.0)
    assert np.isfinite(ssim(other, constant))


def test_mismatched_shapes_are_refused():
    with pytest.raises(InputDataError, match=r"prediction of shape \(3, 4\) and target of shape \(4, 3\)"):
        mse(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(InputDataError, match=r"predictions of shape \(2, 16, 16\), targets of shape \(3, 16, 16\)"):
        image_quality(np.zeros((2, 16, 16)), np.zeros((3, 16, 16)))
    with pytest.raises(InputDataError, match=r"and masks of shape \(2, 8, 8\); expected one shape"):
        image_quality(np.zeros((2, 16, 16)), np.zeros((2, 16, 16)), masks=np.zeros((2, 8, 8)))


def test_other_refusals():
    with pytest.raises(InputDataError, match="prediction has 1 NaN/Inf pixels"):
        mse(np.array([[np.nan, 1.0]]), np.zeros((1, 2)))
    with pytest.raises(InputDataError, match="at least 11x11 px"):
        ssim(np.zeros((8, 40)), np.zeros((8, 40)))
    with pytest.raises(InputDataError, match=r"expected \(N, H, W\) or \(H, W\)"):
        image_quality(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)))
    with pytest.raises(InputDataError, match="expected a non-empty real image"):
        mse(np.zeros((0, 3)), np.zeros((0, 3)))


def test_image_quality_over_a_batch():
    targets = np.stack([image(4), image(5), image(6)])
    predictions = targets.copy()
    predictions[1] += 0.5
    predictions[2] = image(7)
    result = image_quality(predictions, targets)
    assert list(result) == list(METRICS)
    assert all(values.shape == (3,) and values.dtype == np.float64 for values in result.values())
    assert result["psnr"][0] == float("inf") and result["mse"][1] == pytest.approx(0.25, rel=1e-6)
    for name in METRICS:
        assert result[name][2] == pytest.approx({"ssim": ssim, "psnr": psnr, "pearson": pearson, "mse": mse,
                                                 "nrmse": nrmse}[name](predictions[2], targets[2]))
    single = image_quality(predictions[1], targets[1])
    assert {name: values.tolist() for name, values in single.items()} == {
        name: [values[1]] for name, values in result.items()}


def test_summarise():
    summary = summarise({"mse": np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
                         "psnr": np.array([20.0, float("inf")]),
                         "pearson": np.array([np.nan, 0.5]),
                         "ssim": np.array([np.nan])})
    assert summary["mse"] == pytest.approx({"mean": 2.0, "std": math.sqrt(2.0), "median": 2.0, "p5": 0.2, "p95": 3.8,
                                            "n": 5})
    assert summary["psnr"]["mean"] == pytest.approx((20.0 + PSNR_CAP_DB) / 2)
    assert summary["psnr"]["p95"] <= PSNR_CAP_DB
    assert summary["pearson"] == pytest.approx({"mean": 0.5, "std": 0.0, "median": 0.5, "p5": 0.5, "p95": 0.5,
                                                "n": 1})
    assert set(summary["ssim"]) == {"mean", "std", "median", "p5", "p95", "n"}
    assert summary["ssim"]["n"] == 0 and all(math.isnan(summary["ssim"][k]) for k in ("mean", "std", "median"))


def test_pearson_inside_the_nucleus_ignores_the_background():
    rng = np.random.default_rng(3)
    target = rng.random((2, 32, 32))
    prediction = rng.random((2, 32, 32))
    masks = np.zeros((2, 32, 32), np.uint8)
    masks[0, 8:24, 8:24] = 1
    masks[1, 0:3, 0:5] = 1  # 15 pixels: too few
    prediction[0, 8:24, 8:24] = 2 * target[0, 8:24, 8:24] + 1  # perfect inside, noise outside
    result = image_quality(prediction, target, masks=masks)
    assert list(result) == [*METRICS, *MASKED_METRICS]
    assert result["pearson_nucleus"][0] == pytest.approx(1.0) and result["pearson"][0] < 0.9
    assert math.isnan(result["pearson_nucleus"][1]) and MIN_NUCLEUS_PIXELS == 16
    assert summarise(result)["pearson_nucleus"]["n"] == 1


def test_paired_difference_covers_a_known_shift_at_its_nominal_rate():
    from stainworth.stainers.quality import paired_difference

    rng = np.random.default_rng(1)
    covered, called = 0, 0
    for _ in range(1000):
        scores = rng.random(60)
        shifted = scores + 0.02 + rng.normal(0, 0.1, 60)  # a true mean difference of 0.02
        result = paired_difference(shifted, scores)
        covered += result.ci_low <= 0.02 <= result.ci_high
        null = paired_difference(scores + rng.normal(0, 0.1, 60), scores)
        called += null.p < 0.05
    assert 0.93 <= covered / 1000 <= 0.97 and called / 1000 <= 0.07


def test_paired_difference_leaves_out_nan_pairs_and_says_when_there_is_no_spread():
    from stainworth.errors import InputDataError
    from stainworth.stainers.quality import paired_difference

    a = np.array([0.5, np.nan, 0.7, 0.9])
    same = paired_difference(a, a)
    assert same.n == 3 and same.se == 0 and same.ci_low == same.ci_high == 0 and math.isnan(same.p)
    assert "no spread" in same.method
    shifted = paired_difference(a + 0.1, a)
    assert shifted.estimate == pytest.approx(0.1) and math.isnan(shifted.p) and "no spread" in shifted.method
    with pytest.raises(InputDataError, match="expected one per image"):
        paired_difference(a, a[:2])
    with pytest.raises(InputDataError, match="1 images with both values finite"):
        paired_difference(np.array([0.1, np.nan]), np.array([0.2, 0.3]))

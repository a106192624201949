import doctest

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

import stainworth.metrics.segmentation as segmentation
from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics.segmentation import mask_counts, mask_scores, scores_from_counts, summarise_scores


def random_masks(n=20, size=16, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, size, size)) < 0.3
    predicted = truth ^ (rng.random((n, size, size)) < 0.2)
    return predicted, truth


def test_scores_match_sklearn_per_image():
    predicted, truth = random_masks()
    scores = mask_scores(predicted, truth)
    for i in range(len(truth)):
        t, p = truth[i].ravel(), predicted[i].ravel()
        assert scores["precision"][i] == pytest.approx(precision_score(t, p))
        assert scores["recall"][i] == pytest.approx(recall_score(t, p))
        assert scores["dice"][i] == pytest.approx(f1_score(t, p))


def test_dice_is_overlap_ratio_and_harmonic_mean_of_eqs_4_5():
    predicted, truth = random_masks(seed=1)
    scores = mask_scores(predicted, truth)
    intersection = (predicted & truth).sum(axis=(1, 2))
    direct = 2 * intersection / (predicted.sum(axis=(1, 2)) + truth.sum(axis=(1, 2)))
    np.testing.assert_allclose(scores["dice"], direct, rtol=1e-12)
    p, r = scores["precision"], scores["recall"]
    np.testing.assert_allclose(scores["dice"], 2 * p * r / (p + r), rtol=1e-12)  # Eq. 6
    np.testing.assert_array_equal(scores["tp"], intersection)


def test_empty_mask_conventions_and_counts():
    truth = np.zeros((5, 4, 4), bool)
    predicted = np.zeros((5, 4, 4), bool)
    # 0: both empty; 1: truth empty, prediction not; 2: prediction empty, truth not; 3, 4: ordinary
    predicted[1, 0, 0] = True
    truth[2, 1, 1] = True
    truth[3, :2] = True
    predicted[3, :1] = True
    truth[4, 2:] = True
    predicted[4, 3:] = True
    predicted[4, 0, 0] = True
    scores = mask_scores(predicted, truth)
    np.testing.assert_allclose(scores["precision"][:4], [1, 0, 0, 1])
    np.testing.assert_allclose(scores["recall"][:4], [1, np.nan, 0, 0.5])
    np.testing.assert_allclose(scores["dice"][:4], [1, 0, 0, 2 / 3])
    summary = summarise_scores(scores)
    assert (summary.n_images, summary.n_both_empty, summary.n_empty_truth, summary.n_empty_prediction) == (5, 1, 1, 1)
    assert summary.recall.n_defined == 4 and summary.precision.n_defined == 5
    assert summary.recall.mean == pytest.approx(np.nanmean(scores["recall"]))
    assert summary.recall.std == pytest.approx(np.nanstd(scores["recall"], ddof=1))
    assert summary.dice.mean == pytest.approx(scores["dice"].mean())
    flat = summary.as_dict()
    assert flat["recall_n"] == 4 and flat["n_empty_truth"] == 1 and flat["dice_mean"] == summary.dice.mean


def test_summary_std_undefined_for_one_value():
    scores = mask_scores(np.ones((1, 2, 2), bool), np.ones((1, 2, 2), bool))
    summary = summarise_scores(scores)
    assert summary.dice.mean == 1 and np.isnan(summary.dice.std)
    assert summarise_scores(scores, ddof=0).dice.std == 0


def test_probabilities_are_thresholded_inclusively():
    truth = np.array([[[1, 1, 0, 0]]], np.uint8)
    probs = np.array([[[0.5, 0.49, 0.8, 0.1]]], np.float32)
    scores = mask_scores(probs, truth)
    assert scores["tp"][0] == 1 and scores["fp"][0] == 1 and scores["fn"][0] == 1
    assert mask_scores(probs, truth, threshold=0.3)["tp"][0] == 2
    np.testing.assert_array_equal(mask_counts(probs, truth, threshold=0.7), ([0], [1], [2]))


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int64, np.float32, np.float64])
def test_binary_dtypes_agree(dtype):
    predicted, truth = random_masks(seed=2)
    expected = mask_scores(predicted, truth)
    got = mask_scores(predicted.astype(dtype), truth.astype(dtype), threshold=None)
    for key in ("precision", "recall", "dice", "tp"):
        np.testing.assert_array_equal(got[key], expected[key])


def test_chunked_counts_and_extra_axes():
    predicted, truth = random_masks(n=150, size=5, seed=3)
    tp, fp, fn = mask_counts(predicted[:, None], truth[:, None])
    assert tp.shape == (150,)
    np.testing.assert_array_equal(tp, [(p & t).sum() for p, t in zip(predicted, truth, strict=True)])
    np.testing.assert_array_equal(fp, [(p & ~t).sum() for p, t in zip(predicted, truth, strict=True)])
    np.testing.assert_array_equal(fn, [(~p & t).sum() for p, t in zip(predicted, truth, strict=True)])


def test_docstring_examples():
    assert doctest.testmod(segmentation, extraglobs={"np": np}).failed == 0


@pytest.mark.parametrize(
    ("predicted", "truth", "kwargs", "match"),
    [
        (np.zeros((2, 4, 4)), np.zeros((2, 4, 5)), {}, r"differ in shape: \(2, 4, 4\) vs \(2, 4, 5\)"),
        (np.zeros((4, 4)), np.zeros((4, 4)), {}, r"\(n, H, W\) stacks; got shape \(4, 4\)"),
        (np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), {}, "empty test set: 0 images"),
        (np.full((1, 2, 2), 255), np.zeros((1, 2, 2)), {},
         r"predicted masks are not binary \(values in \[255, 255\]\); expected 0/1: pass a boolean mask"),
        (np.full((1, 2, 2), 0.4), np.zeros((1, 2, 2)), {"threshold": None}, "pass threshold= for probabilities"),
        (np.full((1, 2, 2), 1.5), np.zeros((1, 2, 2)), {}, r"probabilities must lie in \[0, 1\]; found .*1.5"),
        (np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)), {}, "predicted masks contain NaN"),
        (np.zeros((1, 2, 2)), np.full((1, 2, 2), 0.7), {}, r"truth masks are not binary .*labels > 0"),
        (np.zeros((1, 2, 2)), np.full((1, 2, 2), "a"), {}, "truth masks: dtype <U1 is not a mask"),
    ],
)
def test_bad_masks_are_refused(predicted, truth, kwargs, match):
    with pytest.raises(InputDataError, match=match):
        mask_scores(predicted, truth, **kwargs)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2])
def test_threshold_must_be_a_probability(threshold):
    with pytest.raises(ConfigError, match=f"threshold: found {threshold}"):
        mask_scores(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), threshold=threshold)


def test_bad_counts_and_summaries_are_refused():
    with pytest.raises(InputDataError, match="lengths differ: 2, 1, 2"):
        scores_from_counts([1, 2], [0], [0, 0])
    with pytest.raises(InputDataError, match="non-negative pixel counts"):
        scores_from_counts([1], [-1], [0])
    with pytest.raises(InputDataError, match="scores lack fn, fp, tp"):
        summarise_scores({"precision": np.ones(1), "recall": np.ones(1), "dice": np.ones(1)})
    empty = {k: np.zeros(0) for k in ("precision", "recall", "dice", "tp", "fp", "fn")}
    with pytest.raises(InputDataError, match="empty test set: 0 images"):
        summarise_scores(empty)

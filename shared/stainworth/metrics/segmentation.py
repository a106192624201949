"""Per-image precision, recall and Dice of binary nucleus masks (Eqs. 4-6 of the study).

For each test image, with TP, FP and FN counted over its pixels,

    precision = TP / (TP + FP),  recall = TP / (TP + FN),  Dice = 2 TP / (2 TP + FP + FN),

and Dice is the harmonic mean of precision and recall (Eq. 6). The study reports the means of
these per-image scores over the test set.

Empty masks make some ratios 0 / 0. The conventions, fixed here for every caller:

================================  =========  ===========  ======
case                              precision  recall       Dice
================================  =========  ===========  ======
truth and prediction both empty   1          1            1
truth empty, prediction not       0          NaN          0
prediction empty, truth not       0          0            0
================================  =========  ===========  ======

Both empty is a correct answer, so every score takes its best value, as the Dice of Metrics
Reloaded (Maier-Hein et al. 2024) and MONAI's ``DiceMetric(ignore_empty=False)`` (Metrics
Reloaded leaves precision and recall undefined there; 1 keeps Eq. 6: 2 * 1 * 1 / 2 = 1). An
empty prediction on an image with nuclei scores precision 0, as the pixel PPV of Metrics
Reloaded and scikit-learn's default ``zero_division`` behaviour: were such images dropped, a
network that gives up on hard images would gain mean precision. Recall on an image without
nuclei is undefined (NaN), as Metrics Reloaded's sensitivity: there was nothing to find, and its
false positives already count in precision and Dice. NaN recalls are left out of the mean and
counted (:func:`summarise_scores`).

References
----------
Dice, L. R. Measures of the amount of ecologic association between species. Ecology 26,
297-302 (1945). https://doi.org/10.2307/1932409

Maier-Hein, L. et al. Metrics reloaded: recommendations for image analysis validation.
Nat. Methods 21, 195-212 (2024). https://doi.org/10.1038/s41592-023-02151-z
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stainworth.errors import ConfigError, InputDataError

_CHUNK = 64  # images binarised at a time, so (n, H, W) float inputs are never copied whole


@dataclass(frozen=True)
class MetricSummary:
    """Mean and spread of one per-image score over the images where it is defined.

    Attributes
    ----------
    mean : float
        Mean over defined (non-NaN) values; NaN when none is defined.
    std : float
        Standard deviation of the defined values (``ddof`` of :func:`summarise_scores`); NaN when
        fewer than ``ddof + 1`` values are defined.
    n_defined : int
        Number of images where the score is defined.
    """

    mean: float
    std: float
    n_defined: int


@dataclass(frozen=True)
class SegmentationSummary:
    """Test-set summary of per-image segmentation scores, with the empty-mask counts.

    Attributes
    ----------
    precision, recall, dice : MetricSummary
        Summaries of the per-image scores.
    n_images : int
        Number of test images.
    n_both_empty : int
        Images where truth and prediction are both empty (all scores 1).
    n_empty_truth : int
        Images without nuclei where something was predicted (recall undefined, precision 0).
    n_empty_prediction : int
        Images with nuclei where nothing was predicted (all scores 0).
    """

    precision: MetricSummary
    recall: MetricSummary
    dice: MetricSummary
    n_images: int
    n_both_empty: int
    n_empty_truth: int
    n_empty_prediction: int

    def as_dict(self) -> dict[str, float | int]:
        """Flat ``{name: value}`` view (``dice_mean``, ``dice_std``, ``dice_n``, ...) for tables."""
        out: dict[str, float | int] = {}
        for name in ("precision", "recall", "dice"):
            summary: MetricSummary = getattr(self, name)
            out.update({f"{name}_mean": summary.mean, f"{name}_std": summary.std, f"{name}_n": summary.n_defined})
        out.update(n_images=self.n_images, n_both_empty=self.n_both_empty, n_empty_truth=self.n_empty_truth,
                   n_empty_prediction=self.n_empty_prediction)
        return out


def _binarise(mask: np.ndarray, name: str, threshold: float | None) -> np.ndarray:
    """Boolean foreground of a bool, 0/1 or (with ``threshold``) probability mask."""
    if mask.dtype == np.bool_:
        return mask
    if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)):
        raise InputDataError(f"{name} masks: dtype {mask.dtype} is not a mask; expected bool, 0/1 integers or floats")
    if mask.size and np.issubdtype(mask.dtype, np.floating) and not np.isfinite(mask).all():
        raise InputDataError(f"{name} masks contain NaN or infinite values; expected 0/1 values or probabilities")
    binary = bool(np.all((mask == 0) | (mask == 1)))
    if binary:
        return mask != 0
    low, high = float(mask.min()), float(mask.max())
    if threshold is None or np.issubdtype(mask.dtype, np.integer):
        probabilities = name == "predicted" and np.issubdtype(mask.dtype, np.floating)
        hint = "pass threshold= for probabilities" if probabilities else "pass a boolean mask (e.g. labels > 0)"
        raise InputDataError(f"{name} masks are not binary (values in [{low:g}, {high:g}]); expected 0/1: {hint}")
    if low < 0 or high > 1:
        raise InputDataError(f"{name} masks: probabilities must lie in [0, 1]; found values in [{low:g}, {high:g}] "
                             "(apply a sigmoid to logits first)")
    return mask >= threshold


def _check_shapes(predicted: np.ndarray, truth: np.ndarray) -> None:
    if predicted.shape != truth.shape:
        raise InputDataError(f"predicted and truth masks differ in shape: {predicted.shape} vs {truth.shape}; "
                             "expected the same (n, H, W)")
    if predicted.ndim < 3:
        raise InputDataError(f"masks must be (n, H, W) stacks; got shape {predicted.shape} (for one image pass "
                             "mask[None])")
    if predicted.shape[0] == 0:
        raise InputDataError("empty test set: 0 images; expected at least one (n, H, W) mask pair")


def mask_counts(predicted: np.ndarray, truth: np.ndarray, *,
                threshold: float | None = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image true positive, false positive and false negative pixel counts.

    Parameters
    ----------
    predicted : numpy.ndarray
        (n, H, W) predicted masks: bool, 0/1 values, or probabilities in [0, 1] (foreground where
        ``p >= threshold``). More trailing axes are pooled with H and W.
    truth : numpy.ndarray
        (n, H, W) true masks, bool or 0/1 values (never thresholded).
    threshold : float or None, optional
        Probability threshold for ``predicted``, in (0, 1). ``None`` refuses non-binary
        predictions.

    Returns
    -------
    tp, fp, fn : numpy.ndarray
        (n,) int64 pixel counts.
    """
    if threshold is not None and not 0 < threshold < 1:
        raise ConfigError(f"threshold: found {threshold}; expected a probability in (0, 1) or None")
    predicted, truth = np.asanyarray(predicted), np.asanyarray(truth)
    _check_shapes(predicted, truth)
    n = predicted.shape[0]
    tp, n_pred, n_true = (np.empty(n, np.int64) for _ in range(3))
    axes = tuple(range(1, predicted.ndim))
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        p = _binarise(np.asarray(predicted[part]), "predicted", threshold)
        t = _binarise(np.asarray(truth[part]), "truth", None)
        tp[part] = np.count_nonzero(p & t, axis=axes)
        n_pred[part] = np.count_nonzero(p, axis=axes)
        n_true[part] = np.count_nonzero(t, axis=axes)
    return tp, n_pred - tp, n_true - tp


def scores_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall and Dice from per-image counts, with the module's empty-mask conventions.

    Parameters
    ----------
    tp, fp, fn : numpy.ndarray
        (n,) non-negative pixel counts per image.

    Returns
    -------
    dict of str to numpy.ndarray
        ``precision``, ``recall``, ``dice`` (float64, NaN where undefined) and the counts ``tp``,
        ``fp``, ``fn`` (int64), each of shape (n,).
    """
    tp, fp, fn = (np.asarray(c, dtype=np.int64).reshape(-1) for c in (tp, fp, fn))
    if not tp.shape == fp.shape == fn.shape:
        raise InputDataError(f"tp, fp, fn lengths differ: {tp.size}, {fp.size}, {fn.size}; expected one per image")
    if min(c.min(initial=0) for c in (tp, fp, fn)) < 0:
        raise InputDataError("tp, fp, fn must be non-negative pixel counts; found a negative count")
    both_empty = (tp + fp + fn) == 0
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), np.nan)
    dice = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    for score in (precision, recall, dice):
        score[both_empty] = 1.0
    return {"precision": precision, "recall": recall, "dice": dice, "tp": tp, "fp": fp, "fn": fn}


def mask_scores(predicted: np.ndarray, truth: np.ndarray, *, threshold: float | None = 0.5) -> dict[str, np.ndarray]:
    """Per-image precision, recall and Dice (Eqs. 4-6) of predicted against true masks.

    Parameters
    ----------
    predicted : numpy.ndarray
        (n, H, W) predicted masks: bool, 0/1 values, or probabilities in [0, 1].
    truth : numpy.ndarray
        (n, H, W) true masks, bool or 0/1 values.
    threshold : float or None, optional
        Foreground where ``predicted >= threshold`` for probability maps (default 0.5). ``None``
        accepts binary predictions only.

    Returns
    -------
    dict of str to numpy.ndarray
        ``precision``, ``recall``, ``dice`` (float64, shape (n,)) with the empty-mask conventions
        of the module docstring (recall NaN on images without nuclei), and ``tp``, ``fp``, ``fn``.

    Raises
    ------
    InputDataError
        Shapes differ, no images, or a mask is not binary (nor probabilities with a threshold).

    Examples
    --------
    >>> truth = np.array([[[1, 1, 0, 0]]])
    >>> scores = mask_scores(np.array([[[0.9, 0.2, 0.7, 0.1]]]), truth)
    >>> [float(scores[k][0]) for k in ("precision", "recall", "dice")]
    [0.5, 0.5, 0.5]
    """
    return scores_from_counts(*mask_counts(predicted, truth, threshold=threshold))


def _summary(values: np.ndarray, ddof: int) -> MetricSummary:
    defined = values[~np.isnan(values)]
    n = int(defined.size)
    mean = float(defined.mean()) if n else float("nan")
    std = float(defined.std(ddof=ddof)) if n > ddof else float("nan")
    return MetricSummary(mean=mean, std=std, n_defined=n)


def summarise_scores(scores: Mapping[str, np.ndarray], *, ddof: int = 1) -> SegmentationSummary:
    """Test-set means and standard deviations of per-image scores, with empty-mask counts.

    Parameters
    ----------
    scores : mapping of str to numpy.ndarray
        The output of :func:`mask_scores` (needs ``precision``, ``recall``, ``dice``, ``tp``,
        ``fp``, ``fn``).
    ddof : int, optional
        Delta degrees of freedom of the standard deviation (default 1, the sample deviation).

    Returns
    -------
    SegmentationSummary
        Means over the images where each score is defined (NaN recalls excluded) and the number
        of images in each empty-mask case.
    """
    missing = sorted({"precision", "recall", "dice", "tp", "fp", "fn"} - set(scores))
    if missing:
        raise InputDataError(f"scores lack {', '.join(missing)}; expected the output of mask_scores")
    tp, fp, fn = (np.asarray(scores[k]).reshape(-1) for k in ("tp", "fp", "fn"))
    if tp.size == 0:
        raise InputDataError("empty test set: 0 images; expected at least one scored image")
    truth_empty, prediction_empty = (tp + fn) == 0, (tp + fp) == 0
    return SegmentationSummary(
        precision=_summary(np.asarray(scores["precision"], np.float64), ddof),
        recall=_summary(np.asarray(scores["recall"], np.float64), ddof),
        dice=_summary(np.asarray(scores["dice"], np.float64), ddof),
        n_images=int(tp.size),
        n_both_empty=int(np.count_nonzero(truth_empty & prediction_empty)),
        n_empty_truth=int(np.count_nonzero(truth_empty & ~prediction_empty)),
        n_empty_prediction=int(np.count_nonzero(prediction_empty & ~truth_empty)),
    )

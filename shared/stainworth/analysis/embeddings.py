"""Penultimate-layer embeddings of a classifier and the cosine distance between its two classes (Fig. 11).

The study (Sengupta et al. 2025, Sec. 2.3.3, Fig. 11) explains its classification results by
"the low-dimensional feature embeddings of the control class and the treated class": for CNN1,
ResNet18 and ResNet101 trained on each modality, "feature embeddings for both classes were
extracted from the trained classifiers, and the cosine distances between embeddings were
computed"; a larger distance is read as higher class separability.

Embedding. The penultimate features of a classifier, the vector its final dense layer turns into
the logit: :meth:`SimpleCNN.embed <stainworth.tasks.classifiers.SimpleCNN.embed>` (the flattened
average-pooled maps of the last block) and :meth:`ResNetClassifier.embed
<stainworth.tasks.classifiers.ResNetClassifier.embed>` (the globally pooled ``layer4`` maps).
Both classifiers compute their logit as ``head(embed(x))``, so the embedding is exactly what the
decision is made from.

Distance. The study reports one distance per classifier and modality but does not say how the
embeddings of the two classes are reduced to it (distance of the class means, or mean distance
over pairs of images). Here it is the cosine distance of the class means,

    d = 1 - <m_0, m_1> / (|m_0| |m_1|),   m_k = mean embedding of class k,

with class 0 = control and 1 = treated. The penultimate features follow a ReLU (and, for the
ResNets, an average), so they are non-negative and ``0 <= d <= 1``.

Uncertainty. A stratified bootstrap: the images of each class are resampled with replacement
within their class (class sizes fixed), ``d`` is recomputed for each resample, and the interval
is the percentile interval of the resampled distances. ``d`` is bounded below by 0 and the
resampling noise of the class means only adds to it, so for two classes of identical
distribution the resampled distances are positive and the interval lies just above 0 (it does
not contain 0): compare intervals between networks or modalities rather than with 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from stainworth.analysis.inference import batches, check_batch_size, evaluation, image_stack
from stainworth.errors import ConfigError, InputDataError

CLASSES = ("control", "treated")
"""Names of labels 0 and 1."""

_CELLS = 1 << 21  # resampled counts or mean coordinates held at a time (~16 MB of float64)


@dataclass(frozen=True)
class CosineDistanceResult:
    """Cosine distance between the mean control and the mean treated embedding, with a bootstrap interval.

    Attributes
    ----------
    distance : float
        ``1 - cos(m_0, m_1)`` for the class means ``m_0`` (control) and ``m_1`` (treated).
    ci_low, ci_high : float
        Percentile bootstrap interval of the distance (nuclei resampled within each class).
    confidence : float
        Nominal coverage of the interval, e.g. 0.95.
    n_boot : int
        Number of resamples.
    n_undefined : int
        Resamples left out of the interval because a resampled class mean was the zero vector
        (possible only when some embeddings are all zero).
    n_control, n_treated : int
        Images of each class.
    dimension : int
        Length of the embeddings.
    """

    distance: float
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int
    n_undefined: int
    n_control: int
    n_treated: int
    dimension: int


def embeddings(net: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Penultimate-layer embeddings of a classifier, in evaluation mode without gradients.

    Parameters
    ----------
    net : torch.nn.Module
        A classifier with ``embed(x) -> (N, D)``: ``cnn1``, ``cnn3`` or ``resnet*`` of
        :func:`stainworth.tasks.build_task_net`. Its training flags are restored afterwards.
    images : numpy.ndarray
        (N, H, W) or (N, C, H, W) images, as the classifier was trained on.
    batch_size : int, optional
        Images per forward pass (default 64); the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        (N, D) float64 embeddings, one row per image.

    Raises
    ------
    ConfigError
        A network without ``embed`` or a batch size below 1.
    InputDataError
        Images that are not a non-empty, finite (N, H, W) or (N, C, H, W) stack.
    """
    embed = getattr(net, "embed", None)
    if not callable(embed):
        raise ConfigError(f"embeddings: network {type(net).__name__} has no embed(x); expected a classifier of "
                          "stainworth.tasks.classifiers (cnn1, cnn3, resnet18, resnet50, resnet101)")
    batch_size, stack = check_batch_size(batch_size), image_stack(images)
    with evaluation(net):
        rows = [embed(batch).double().cpu().numpy() for batch in batches(net, stack, batch_size)]
    return np.concatenate(rows).reshape(stack.shape[0], -1)


def _check_embeddings(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, labels = np.asarray(values), np.asarray(labels)
    if values.dtype.kind not in "biuf" or values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise InputDataError(f"embeddings: found shape {values.shape} of dtype {values.dtype}; expected a "
                             "non-empty numeric (N, D) array, one row per image")
    values = values.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        raise InputDataError(f"embeddings: found {np.count_nonzero(~np.isfinite(values))} NaN or infinite "
                             "values; expected finite features")
    if labels.ndim != 1 or labels.size != values.shape[0]:
        raise InputDataError(f"labels: found shape {labels.shape} for {values.shape[0]} embeddings; expected one "
                             "label per row")
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise InputDataError(f"labels: found values {np.unique(labels)[:5].tolist()}; expected 0 (control) and "
                             "1 (treated)")
    return values, labels.astype(np.int64)


def _class_rows(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = np.unique(labels)
    if present.size < 2:
        only = int(present[0])
        raise InputDataError(f"labels: found only class {only} ({CLASSES[only]}, {labels.size} images); expected "
                             "both 0 (control) and 1 (treated)")
    return values[labels == 0], values[labels == 1]


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine distance ``1 - cos(a_i, b_i)`` of (..., D) arrays; NaN where a vector is zero.

    Clipped to [0, 2] against rounding (identical vectors give 0 to within ~1e-16).
    """
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("...d,...d->...", a, b) / norms
    return np.where(norms > 0, np.clip(1.0 - cosine, 0.0, 2.0), np.nan)


def _resampled_distances(control: np.ndarray, treated: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n0, n1, dimension = control.shape[0], treated.shape[0], control.shape[1]
    rows = max(1, _CELLS // max(n0, n1, dimension))
    distances = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        size = min(rows, n_boot - start)
        means0 = rng.multinomial(n0, np.full(n0, 1.0 / n0), size=size) @ control / n0
        means1 = rng.multinomial(n1, np.full(n1, 1.0 / n1), size=size) @ treated / n1
        distances[start:start + size] = cosine_distances(means0, means1)
    return distances


def _check_options(n_boot: int, confidence: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 100:
        raise ConfigError(f"n_boot: found {n_boot!r}; expected an integer of at least 100 resamples")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence: found {confidence}; expected a level in (0, 1), e.g. 0.95")


def class_cosine_distance(embeddings: np.ndarray, labels: np.ndarray, *, n_boot: int = 2000,
                          confidence: float = 0.95, seed: int = 0) -> CosineDistanceResult:
    """Cosine distance between the mean control and mean treated embedding, with a bootstrap interval.

    Parameters
    ----------
    embeddings : numpy.ndarray
        (N, D) embeddings, e.g. from :func:`embeddings`.
    labels : numpy.ndarray
        (N,) classes: 0 control, 1 treated.
    n_boot : int, optional
        Bootstrap resamples (default 2000; at least 100).
    confidence : float, optional
        Nominal coverage of the percentile interval (default 0.95).
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same inputs and seed give the same result.

    Returns
    -------
    CosineDistanceResult
        Distance, interval and counts (see the module docstring for the definition).

    Raises
    ------
    InputDataError
        Embeddings that are not a non-empty finite (N, D) array, labels of another length or with
        values other than 0 and 1, a single class, or a class whose mean embedding is zero.
    ConfigError
        Fewer than 100 resamples or a confidence outside (0, 1).

    Examples
    --------
    >>> values = np.array([[1.0, 0.0], [1.0, 0.2], [1.0, 1.0], [0.8, 1.0]])
    >>> result = class_cosine_distance(values, np.array([0, 0, 1, 1]), n_boot=200)
    >>> round(result.distance, 4), result.n_control, result.n_treated
    (0.2604, 2, 2)
    """
    _check_options(n_boot, confidence)
    control, treated = _class_rows(*_check_embeddings(embeddings, labels))
    means = control.mean(axis=0), treated.mean(axis=0)
    for name, mean in zip(CLASSES, means, strict=True):
        if not np.any(mean):
            raise InputDataError(f"embeddings: the mean {name} embedding is the zero vector, so its cosine "
                                 "distance is undefined; expected features that are not all zero")
    boot = _resampled_distances(control, treated, n_boot, seed)
    defined = boot[np.isfinite(boot)]
    low, high = (np.quantile(defined, [(1 - confidence) / 2, (1 + confidence) / 2]) if defined.size
                 else (np.nan, np.nan))
    return CosineDistanceResult(distance=float(cosine_distances(*means)), ci_low=float(low), ci_high=float(high),
                                confidence=float(confidence), n_boot=int(n_boot),
                                n_undefined=int(n_boot - defined.size), n_control=int(control.shape[0]),
                                n_treated=int(treated.shape[0]), dimension=int(control.shape[1]))

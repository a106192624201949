"""Channelized Hotelling observer (CHO) with Laguerre-Gauss channels: a linear reference observer.

The study asks whether a task network of a given capacity does better on label-free, virtually
stained or fluorescence images. A model observer of fixed, small capacity gives a reference that
involves no training of a network: the channelized Hotelling observer reduces each image ``g`` to
``p`` channel outputs ``v = U g`` (``U`` the ``p`` channel profiles), and scores it with the
Hotelling (best linear) discriminant in channel space,

    t(g) = w^T v,   w = K^-1 (<v>_1 - <v>_0),   K = (K_0 + K_1) / 2,

where ``<v>_k`` and ``K_k`` are the mean and (unbiased) covariance of the channel outputs of
class ``k`` (0 = control, 1 = treated) in the training images. ``K`` is regularised (Tikhonov)
as ``K + lambda (tr K / p) I``: ``lambda`` is relative to the mean channel variance, so the
observer is unchanged by a rescaling of the images. Scores are computed on held-out images and
summarised by the empirical AUC (Mann-Whitney).

Laguerre-Gauss channels, radially symmetric about the image centre (the study's nuclei are
centred on their canvas), are

    u_j(r) = sqrt(2) / a exp(-pi r^2 / a^2) L_j(2 pi r^2 / a^2),   j = 0 .. p - 1,

with ``L_j`` the Laguerre polynomials and ``a`` the width. They are orthonormal in the plane; on
the pixel grid they are normalised to unit sum of squares and stay orthonormal to ~1e-7 when
``a <= size / 6`` and ``p <= 10``. The CHO is the ideal linear observer when the signal
difference lies in the span of the channels (Gallas & Barrett 2003).

References
----------
Myers, K. J. & Barrett, H. H. Addition of a channel mechanism to the ideal-observer model.
J. Opt. Soc. Am. A 4, 2447-2457 (1987). https://doi.org/10.1364/JOSAA.4.002447

Gallas, B. D. & Barrett, H. H. Validating the use of channels to estimate the ideal linear
observer. J. Opt. Soc. Am. A 20, 1725-1738 (2003). https://doi.org/10.1364/JOSAA.20.001725

Barrett, H. H. & Myers, K. J. Foundations of Image Science (Wiley, 2004).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from scipy.special import eval_laguerre

from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics.roc import AucEstimate, empirical_auc

_CHUNK = 256  # images channelised at a time


def laguerre_gauss_channels(size: int, n_channels: int, width: float, *,
                            centre: tuple[float, float] | None = None) -> np.ndarray:
    """Laguerre-Gauss channel profiles on a square pixel grid, each of unit norm.

    Parameters
    ----------
    size : int
        Image side in pixels.
    n_channels : int
        Number of channels ``p`` (orders 0 .. p - 1).
    width : float
        Gaussian width ``a`` in pixels (``size / 6`` keeps 10 channels inside the image).
    centre : tuple of float, optional
        (row, column) of the channel centre; default the image centre ``((size - 1) / 2,) * 2``.

    Returns
    -------
    numpy.ndarray
        (n_channels, size, size) float64 channels, each with unit sum of squares.
    """
    if size < 1 or n_channels < 1:
        raise ConfigError(f"size and n_channels: found {size} and {n_channels}; expected positive integers")
    if not width > 0:
        raise ConfigError(f"width: found {width}; expected a positive Gaussian width in pixels")
    cy, cx = ((size - 1) / 2.0,) * 2 if centre is None else centre
    rows, cols = np.mgrid[:size, :size]
    x = 2 * np.pi * ((rows - cy) ** 2 + (cols - cx) ** 2) / width**2
    channels = np.stack([np.sqrt(2) / width * np.exp(-x / 2) * eval_laguerre(j, x) for j in range(n_channels)])
    norms = np.sqrt(np.sum(channels**2, axis=(1, 2)))
    if not np.all(norms > 0):
        raise ConfigError(f"width {width} and centre {centre} leave a channel with no weight on a {size}x{size} "
                          "image; use a larger width or a centre inside the image")
    return channels / norms[:, None, None]


def _check_labels(labels: np.ndarray, n_images: int, what: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_images,):
        raise InputDataError(f"{what} labels: shape {labels.shape}; expected ({n_images},), one per image")
    values = np.unique(labels)
    if not np.isin(values, (0, 1)).all():
        raise InputDataError(f"{what} labels: found values {values.tolist()}; expected 0 (control) or 1 (treated)")
    if values.size < 2:
        raise InputDataError(f"{what} labels: only class {values.tolist()} present; expected both 0 (control) "
                             "and 1 (treated)")
    return labels.astype(bool)


class ChannelizedHotelling:
    """Channelized Hotelling observer with Tikhonov-regularised channel covariance.

    Parameters
    ----------
    channels : numpy.ndarray
        (p, H, W) channel profiles, e.g. from :func:`laguerre_gauss_channels`.
    regularisation : float, optional
        Relative Tikhonov weight ``lambda >= 0``: the covariance used is
        ``K + lambda (tr K / p) I`` (default 1e-3).
    """

    def __init__(self, channels: np.ndarray, *, regularisation: float = 1e-3) -> None:
        channels = np.asarray(channels, dtype=np.float64)
        if channels.ndim != 3:
            raise ConfigError(f"channels: shape {channels.shape}; expected (n_channels, H, W)")
        if not regularisation >= 0:
            raise ConfigError(f"regularisation: found {regularisation}; expected a non-negative relative weight")
        self.channels = channels
        self.regularisation = float(regularisation)
        self.weights: np.ndarray | None = None
        self.mean_difference: np.ndarray | None = None

    def channelise(self, images: np.ndarray) -> np.ndarray:
        """Channel outputs ``v = U g`` of (n, H, W) images, as an (n, p) float64 array."""
        images = np.asanyarray(images)
        if images.ndim != 3 or images.shape[1:] != self.channels.shape[1:]:
            raise InputDataError(f"images: shape {images.shape}; expected (n, {self.channels.shape[1]}, "
                                 f"{self.channels.shape[2]}) to match the channels")
        if images.shape[0] == 0:
            raise InputDataError("images: 0 images; expected at least one")
        flat = self.channels.reshape(self.channels.shape[0], -1).T
        outputs = np.concatenate([np.asarray(images[i:i + _CHUNK], dtype=np.float64).reshape(-1, flat.shape[0]) @ flat
                                  for i in range(0, images.shape[0], _CHUNK)])
        if not np.isfinite(outputs).all():
            raise InputDataError("images contain NaN or infinite values; expected finite pixel values")
        return outputs

    def fit(self, images: np.ndarray, labels: np.ndarray) -> Self:
        """Estimate the Hotelling template from training images of both classes.

        Parameters
        ----------
        images : numpy.ndarray
            (n, H, W) training images.
        labels : numpy.ndarray
            (n,) 0 (control) or 1 (treated); treated images get the higher scores.

        Returns
        -------
        ChannelizedHotelling
            ``self``, fitted.
        """
        outputs = self.channelise(images)
        treated = _check_labels(labels, outputs.shape[0], "training")
        p = self.channels.shape[0]
        counts = (int(np.count_nonzero(~treated)), int(np.count_nonzero(treated)))
        if min(counts) < p + 1:
            raise InputDataError(f"CHO training needs at least n_channels + 1 = {p + 1} images per class for the "
                                 f"channel covariance; got {counts[0]} control and {counts[1]} treated")
        groups = (outputs[~treated], outputs[treated])
        covariance = 0.5 * sum(np.atleast_2d(np.cov(g, rowvar=False)) for g in groups)
        covariance = covariance + self.regularisation * np.trace(covariance) / p * np.eye(p)
        self.mean_difference = groups[1].mean(axis=0) - groups[0].mean(axis=0)
        self.weights = np.linalg.solve(covariance, self.mean_difference)
        return self

    def score(self, images: np.ndarray) -> np.ndarray:
        """Observer scores ``w^T v`` of (n, H, W) images; higher means more likely treated."""
        if self.weights is None:
            raise InputDataError("the observer is not fitted; call fit(images, labels) first")
        return self.channelise(images) @ self.weights

    @property
    def training_snr(self) -> float:
        """Channelized SNR on the training set, ``sqrt(dv^T K^-1 dv)`` (biased upwards by fitting)."""
        if self.weights is None or self.mean_difference is None:
            raise InputDataError("the observer is not fitted; call fit(images, labels) first")
        return float(np.sqrt(max(float(self.mean_difference @ self.weights), 0.0)))

    @property
    def template(self) -> np.ndarray:
        """Image-domain template ``U^T w`` of shape (H, W)."""
        if self.weights is None:
            raise InputDataError("the observer is not fitted; call fit(images, labels) first")
        return np.tensordot(self.weights, self.channels, axes=1)


@dataclass(frozen=True)
class ObserverResult:
    """Test-set result of a channelized Hotelling observer.

    Attributes
    ----------
    scores : numpy.ndarray
        (n_test,) observer scores of the test images.
    auc : AucEstimate
        Empirical (Mann-Whitney) AUC of the scores for treated vs control, with DeLong's
        standard error and 95% confidence interval.
    training_snr : float
        Channelized SNR on the training set.
    n_channels : int
        Number of Laguerre-Gauss channels.
    width : float
        Channel width ``a`` in pixels.
    """

    scores: np.ndarray
    auc: AucEstimate
    training_snr: float
    n_channels: int
    width: float


def cho_auc(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray,
            *, n_channels: int = 10, width: float | None = None, regularisation: float = 1e-3,
            centre: tuple[float, float] | None = None) -> ObserverResult:
    """Fit a Laguerre-Gauss CHO on training images and compute its test AUC.

    Parameters
    ----------
    train_images, test_images : numpy.ndarray
        (n, S, S) square images, nuclei centred on the canvas.
    train_labels, test_labels : numpy.ndarray
        (n,) 0 (control) or 1 (treated).
    n_channels : int, optional
        Number of channels (default 10).
    width : float, optional
        Channel width ``a`` in pixels; default ``S / 6``.
    regularisation : float, optional
        Relative Tikhonov weight of the channel covariance (default 1e-3).
    centre : tuple of float, optional
        (row, column) of the channel centre; default the image centre.

    Returns
    -------
    ObserverResult
        Test scores, test AUC and the settings used.

    Raises
    ------
    InputDataError
        Images not (n, S, S), non-finite values, labels not 0/1, one class only, or fewer than
        ``n_channels + 1`` training images in a class.
    """
    train_images = np.asanyarray(train_images)
    if train_images.ndim != 3 or train_images.shape[1] != train_images.shape[2]:
        raise InputDataError(f"training images: shape {train_images.shape}; expected (n, S, S) square images")
    size = train_images.shape[1]
    width = size / 6.0 if width is None else float(width)
    channels = laguerre_gauss_channels(size, n_channels, width, centre=centre)
    observer = ChannelizedHotelling(channels, regularisation=regularisation).fit(train_images, train_labels)
    scores = observer.score(test_images)
    treated = _check_labels(test_labels, scores.shape[0], "test")
    auc = empirical_auc(scores, treated.astype(int))
    return ObserverResult(scores=scores, auc=auc, training_snr=observer.training_snr, n_channels=n_channels,
                          width=width)

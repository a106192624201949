"""A classical segmenter as the segmentation reference: its Dice against the ground-truth nuclei.

The embedded classical labeller (:func:`stainworth.labels.label_nuclei_classical`: smoothing,
Otsu threshold, hole filling, speck removal, watershed) runs on each modality of a whole field,
with its defaults and the marker type of the channel (the phase and H3K27me3 fill the nucleus,
Lamin A/C lines it). Its foreground is scored against the phantom's nucleus masks by the pixel
Dice of :func:`stainworth.metrics.mask_scores`, one value per field, over the part of the field
the fluorescence camera covers. :func:`mean_with_interval` summarises the fields.
"""

from __future__ import annotations

import numpy as np

from stainworth.analysis.reference_nuclei import RegisteredField
from stainworth.labels import label_nuclei_classical
from stainworth.metrics.mean_interval import MeanInterval, t_interval
from stainworth.metrics.segmentation import mask_scores

MARKERS = {"label_free": "fill", "h3k27me3": "fill", "lamin_a_c": "rim"}
"""Modality -> marker type of the classical labeller."""


def classical_dice(image: np.ndarray, truth: np.ndarray, *, pixel_size_um: float, marker: str) -> float:
    """Pixel Dice of the classical labeller's foreground on ``image`` against the true nucleus mask.

    Parameters
    ----------
    image
        (H, W) finite intensities.
    truth
        (H, W) ground-truth labels or mask, non-zero inside nuclei.
    pixel_size_um
        Pixel size, um.
    marker
        ``"fill"`` or ``"rim"``.

    Returns
    -------
    float
        Dice in [0, 1] (1 when both masks are empty).

    Examples
    --------
    >>> rows, cols = np.mgrid[:96, :96]
    >>> disc = (rows - 47.5) ** 2 + (cols - 47.5) ** 2 < 20 ** 2
    >>> classical_dice(disc.astype(np.float32), disc, pixel_size_um=0.32, marker="fill")
    1.0
    """
    labels = label_nuclei_classical(image, pixel_size_um=pixel_size_um, marker=marker)  # type: ignore[arg-type]
    return float(mask_scores((labels > 0)[None], (np.asarray(truth) != 0)[None], threshold=None)["dice"][0])


def field_dice(field: RegisteredField) -> dict[str, float]:
    """Dice of the classical labeller on each modality of :data:`MARKERS` over the field's covered box."""
    box = field.valid_box()
    images = {"label_free": field.label_free} | {name: field.channel(name) for name in field.channels}
    return {name: classical_dice(images[name][box], field.labels[box], pixel_size_um=field.pixel_size_um,
                                 marker=MARKERS[name]) for name in MARKERS}


def mean_with_interval(values: np.ndarray, *, confidence: float = 0.95,
                       bounds: tuple[float, float] = (-np.inf, np.inf)) -> MeanInterval:
    """Mean of independent per-field values with the t interval ``mean +/- t_{n-1} sd / sqrt(n)``.

    The interval is clipped to ``bounds``, the range the mean can take (``(0, 1)`` for a Dice); one
    field gives no interval (NaN), see :func:`stainworth.metrics.mean_interval.t_interval`.

    Raises
    ------
    InputDataError
        No values, or NaN/Inf among them.
    """
    return t_interval(values, confidence=confidence, bounds=bounds, method="t over fields")

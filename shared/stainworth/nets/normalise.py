"""Robust intensity normalisation of stainer inputs and targets, fitted on the training split.

Label-free and fluorescence images are mapped affinely so that a low and a high percentile of the
training split's pixels (1st and 99.8th by default, as in CARE, Weigert et al. 2018) land on 0
and 1. The same map is applied at inference and inverted on the network's output, so virtually
stained images come back on the fluorescence scale of the training data. Percentiles rather than
min/max keep a few hot pixels or saturated nuclei from setting the scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from stainworth.errors import InputDataError


@dataclass(frozen=True)
class PercentileNormaliser:
    """``(x - low) / (high - low)``, and its inverse.

    Attributes
    ----------
    low, high
        Intensities mapped to 0 and 1. When ``high <= low`` (a constant training split) the scale
        is taken as 1, so constant images never divide by zero: they map to 0.
    percentiles
        The percentiles ``low`` and ``high`` were taken at (for the record).
    """

    low: float
    high: float
    percentiles: tuple[float, float] = (1.0, 99.8)

    @property
    def scale(self) -> float:
        """``high - low``, or 1 for a degenerate (constant) fit."""
        spread = self.high - self.low
        return spread if np.isfinite(spread) and spread > 0 else 1.0

    @classmethod
    def fit(cls, images: Any, *, percentiles: tuple[float, float] = (1.0, 99.8), max_items: int = 256,
            max_pixels: int = 2_000_000, seed: int = 0) -> PercentileNormaliser:
        """Fit on (n, H, W) images (numpy or zarr), reading at most ``max_items`` evenly spaced items.

        Raises
        ------
        InputDataError
            When there are no images or they contain NaN/Inf.
        """
        n = int(images.shape[0]) if len(images.shape) == 3 else 0
        if n == 0:
            raise InputDataError(f"normalisation: images of shape {tuple(images.shape)}; expected (n, H, W), n >= 1")
        index = np.unique(np.linspace(0, n - 1, min(n, max_items)).round().astype(int))
        values = np.asarray(images[index.min():index.max() + 1], dtype=np.float32)[index - index.min()].ravel()
        if not np.all(np.isfinite(values)):
            raise InputDataError("normalisation: the training images contain NaN/Inf pixels; expected finite values")
        if values.size > max_pixels:
            values = np.random.default_rng(seed).choice(values, max_pixels, replace=False)
        low, high = np.percentile(values, percentiles)
        return cls(low=float(low), high=float(high), percentiles=(float(percentiles[0]), float(percentiles[1])))

    @classmethod
    def from_statistics(cls, statistics: Mapping[str, Any], image: str) -> PercentileNormaliser:
        """From a dataset's normalisation statistics (``stats[image]["all"]["p1"]``, ``["p99_8"]``).

        Raises
        ------
        InputDataError
            When the statistics lack the percentiles.
        """
        values = statistics.get(image, {}).get("all", {})
        if values.get("p1") is None or values.get("p99_8") is None:
            raise InputDataError(f"normalisation statistics of '{image}': found keys {sorted(values)}; "
                                 "expected 'p1' and 'p99_8' (re-run extract)")
        return cls(low=float(values["p1"]), high=float(values["p99_8"]), percentiles=(1.0, 99.8))

    def apply(self, images: np.ndarray) -> np.ndarray:
        """Normalised float32 copy."""
        return ((np.asarray(images, dtype=np.float32) - np.float32(self.low)) / np.float32(self.scale))

    def invert(self, normalised: np.ndarray) -> np.ndarray:
        """Back to the original intensity scale, float32."""
        return np.asarray(normalised, dtype=np.float32) * np.float32(self.scale) + np.float32(self.low)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored with the model)."""
        return asdict(self) | {"percentiles": list(self.percentiles)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PercentileNormaliser:
        """Inverse of :meth:`to_dict`."""
        low, high = data["percentiles"]
        return cls(low=float(data["low"]), high=float(data["high"]), percentiles=(float(low), float(high)))

"""Fourier ring correlation between a virtual stain and the real fluorescence (numpy in, numpy out).

The FRC at spatial frequency ``f`` is the normalised cross-correlation of the two images' Fourier
transforms over the ring ``|k| ≈ f`` (Saxton and Baumeister 1982 [1]_; for light microscopy,
Nieuwenhuizen et al. 2013 [2]_):

``FRC(f) = Re Σ_ring A(k) B*(k) / sqrt(Σ_ring |A(k)|² · Σ_ring |B(k)|²)``.

It is 1 at every frequency for identical images (and for images that differ by a positive scale,
or by a filter that changes no phase), and falls towards 0 where the two share nothing. The
**resolution** is ``1 / f`` at the first ring where the FRC drops below the fixed threshold 1/7
(:data:`FRC_THRESHOLD`, the criterion of [2]_), interpolated linearly between rings: the finest
detail the virtual stain reproduces. Conventions:

- both images have their mean subtracted and are multiplied by a 2-D Hann window before the
  transform, so that the edges of a crop (which both images share) add no false correlation at
  high frequencies;
- rings are one frequency step ``1 / min(H, W)`` wide, from the first step up to Nyquist
  (0.5 cycles per pixel); the constant (DC) term is left out;
- an FRC that never drops below the threshold gives the Nyquist limit, 2 px; one below it already
  at the first ring gives NaN (no detail in common; summaries leave it out and count it).

References
----------
.. [1] Saxton WO, Baumeister W (1982). The correlation averaging of a regularly arranged bacterial
       cell envelope protein. J. Microsc. 127(2):127-138. doi:10.1111/j.1365-2818.1982.tb00405.x
.. [2] Nieuwenhuizen RPJ, Lidke KA, Bates M, et al. (2013). Measuring image resolution in optical
       nanoscopy. Nat. Methods 10:557-562. doi:10.1038/nmeth.2448
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stainworth.errors import InputDataError

FRC_THRESHOLD = 1.0 / 7.0
"""The FRC value whose crossing defines the resolution."""
NYQUIST_PX = 2.0
"""The finest resolution a sampled image can show (two pixels per period)."""


def _prepared(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or min(a.shape) < 8:
        raise InputDataError(f"Fourier ring correlation: images of shapes {a.shape} and {b.shape}; expected two "
                             "(H, W) images of one shape, at least 8 px on each side")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputDataError("Fourier ring correlation: non-finite pixels; expected finite values")
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    return (a - a.mean()) * window, (b - b.mean()) * window


def fourier_ring_correlation(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """The FRC of two images, ring by ring.

    Parameters
    ----------
    a, b
        (H, W) real images of one shape, at least 8 px on each side.

    Returns
    -------
    frequencies : numpy.ndarray
        (R,) ring frequencies in cycles per pixel: ``k / min(H, W)`` for k = 1 .. min(H, W) // 2.
    frc : numpy.ndarray
        (R,) the correlation of each ring, in [-1, 1]; 0 where either image has no power in it.
    """
    a, b = _prepared(a, b)
    height, width = a.shape
    side = min(height, width)
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    ring = np.floor(radius * side + 0.5).astype(np.int64)
    inside = ring <= side // 2
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    count = side // 2 + 1
    cross = np.bincount(ring[inside], (fa * np.conj(fb)).real[inside], minlength=count)
    power_a = np.bincount(ring[inside], (np.abs(fa) ** 2)[inside], minlength=count)
    power_b = np.bincount(ring[inside], (np.abs(fb) ** 2)[inside], minlength=count)
    denominator = np.sqrt(power_a * power_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        frc = np.where(denominator > 0, cross / denominator, 0.0)
    frequencies = np.arange(count) / side
    return frequencies[1:], np.clip(frc[1:], -1.0, 1.0)


def frc_resolution(a: Any, b: Any, *, threshold: float = FRC_THRESHOLD) -> float:
    """The FRC resolution of ``a`` against ``b`` in pixels (see the module docstring).

    Returns
    -------
    float
        ``1 / f`` at the first crossing of ``threshold``; :data:`NYQUIST_PX` when the FRC never
        drops below it; NaN when it is below it at the first ring.
    """
    frequencies, frc = fourier_ring_correlation(a, b)
    below = np.flatnonzero(frc < threshold)
    if below.size == 0:
        return NYQUIST_PX
    k = int(below[0])
    if k == 0:
        return float("nan")
    f0, f1, c0, c1 = frequencies[k - 1], frequencies[k], frc[k - 1], frc[k]
    crossing = f0 + (c0 - threshold) / (c0 - c1) * (f1 - f0)
    return float(1.0 / crossing)

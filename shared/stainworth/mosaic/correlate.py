"""Similarity primitives shared by stitching and registration: overlaps, NCC, taper, shifts."""

from __future__ import annotations

import numpy as np


def overlap_slices(offset: tuple[int, int], shape: tuple[int, int]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices of tile i and of tile j covering their common area when j sits at integer ``offset`` from i."""
    (dy, dx), (height, width) = offset, shape
    in_i = (slice(max(dy, 0), min(height, height + dy)), slice(max(dx, 0), min(width, width + dx)))
    in_j = (slice(max(-dy, 0), min(height, height - dy)), slice(max(-dx, 0), min(width, width - dx)))
    return in_i, in_j


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson) of two equally shaped arrays; 0 if either is flat."""
    a = a - a.mean(dtype=np.float64)
    b = b - b.mean(dtype=np.float64)
    denominator = float(np.sqrt(np.sum(a * a, dtype=np.float64) * np.sum(b * b, dtype=np.float64)))
    return float(np.sum(a * b, dtype=np.float64) / denominator) if denominator > 0 else 0.0


def taper(shape: tuple[int, ...]) -> np.ndarray:
    """Separable Tukey window (cosine over the outer quarter of each side), float32."""
    def profile(length: int) -> np.ndarray:
        edge = max(length // 4, 1)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
        out = np.ones(length)
        out[:edge], out[length - edge:] = ramp, ramp[::-1]
        return out

    return np.outer(profile(shape[0]), profile(shape[1])).astype(np.float32)


def correlation_shift(a: np.ndarray, b: np.ndarray, *, max_shift: float | None = None) -> np.ndarray:
    """Sub-pixel shift s (dy, dx) with ``a(p) ~ b(p - s)``, by cross-correlation of the tapered images.

    The integer peak of the (plain, not phase-normalised) circular cross-correlation is refined
    by a parabola through the peak and its two neighbours along each axis.

    Parameters
    ----------
    a, b
        Equally shaped (h, w) images.
    max_shift
        Only peaks within this many pixels of zero shift are considered (``None``: all).

    Returns
    -------
    numpy.ndarray
        float64 (2,) shift (dy, dx).
    """
    window = taper((a.shape[0], a.shape[1]))
    a = (a - a.mean()) * window
    b = (b - b.mean()) * window
    surface = np.fft.irfft2(np.fft.rfft2(a) * np.conj(np.fft.rfft2(b)), s=a.shape)
    surface = np.fft.fftshift(surface)
    centre = np.array(surface.shape) // 2
    if max_shift is not None:
        ys, xs = np.ogrid[:surface.shape[0], :surface.shape[1]]
        far = (np.abs(ys - centre[0]) > max_shift) | (np.abs(xs - centre[1]) > max_shift)
        surface = np.where(far, -np.inf, surface)
    peak = np.array(np.unravel_index(int(np.argmax(surface)), surface.shape))
    shift = (peak - centre).astype(np.float64)
    for axis in (0, 1):
        step = np.eye(2, dtype=int)[axis]
        if 0 < peak[axis] < surface.shape[axis] - 1:
            minus, mid, plus = surface[tuple(peak - step)], surface[tuple(peak)], surface[tuple(peak + step)]
            curvature = minus - 2 * mid + plus
            if np.isfinite(curvature) and curvature < 0:
                shift[axis] += 0.5 * (minus - plus) / curvature
    return shift

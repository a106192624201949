"""Local patches and outlines: where a cell's pixels are and how far each is from its outline.

Convention: array index (row, col) is the coordinate (y, x) of the pixel centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stainworth.phantom.cells import HARMONIC_ORDERS


@dataclass(frozen=True)
class Window:
    """A rectangular patch of a field around a centre, clipped to the field."""

    rows: slice
    """Rows of the patch in the field."""
    cols: slice
    """Columns of the patch in the field."""
    dy: np.ndarray
    """(h, 1) float32 row coordinate minus the centre's, px."""
    dx: np.ndarray
    """(1, w) float32 column coordinate minus the centre's, px."""

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of the patch."""
        return (self.dy.shape[0], self.dx.shape[1])

    def sub(self, other: Window) -> tuple[slice, slice]:
        """Slices of ``other`` (a window inside this one) in this window's coordinates."""
        return (
            slice(other.rows.start - self.rows.start, other.rows.stop - self.rows.start),
            slice(other.cols.start - self.cols.start, other.cols.stop - self.cols.start),
        )


def window(
    centre_yx: tuple[float, float], radius: float, shape: tuple[int, int]
) -> Window | None:
    """The patch of ``shape`` within ``radius`` px of ``centre_yx``; None if it is empty."""
    cy, cx = centre_yx
    y0, y1 = max(math.floor(cy - radius), 0), min(math.ceil(cy + radius) + 1, shape[0])
    x0, x1 = max(math.floor(cx - radius), 0), min(math.ceil(cx + radius) + 1, shape[1])
    if y0 >= y1 or x0 >= x1:
        return None
    dy = (np.arange(y0, y1, dtype=np.float64) - cy).astype(np.float32)[:, None]
    dx = (np.arange(x0, x1, dtype=np.float64) - cx).astype(np.float32)[None, :]
    return Window(rows=slice(y0, y1), cols=slice(x0, x1), dy=dy, dx=dx)


def outline_distance(
    win: Window, axes: np.ndarray, angle: float, harmonics: np.ndarray
) -> np.ndarray:
    """Normalised radial distance rho from the centre: 0 at the centre, 1 on the outline.

    The outline is an ellipse with semi-axes ``axes`` (major, minor; px) rotated by ``angle``
    (rad), whose radius is modulated by ``1 + sum_k a_k cos(k theta + p_k)`` for the harmonic
    orders of :data:`~stainworth.phantom.cells.HARMONIC_ORDERS`.

    Returns
    -------
    numpy.ndarray
        (h, w) float32.
    """
    c, s = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    u = (win.dx * c + win.dy * s) / np.float32(axes[0])
    v = (win.dy * c - win.dx * s) / np.float32(axes[1])
    rho = np.sqrt(u * u + v * v)
    amplitude, phase = harmonics[:, 0], harmonics[:, 1]
    if not np.any(amplitude > 0):
        return rho
    # sum_k a_k cos(k theta + p_k) = Re(sum_k a_k e^{i p_k} z^k), z = e^{i theta}, by Horner.
    coefficients = (amplitude * np.exp(1j * phase)).astype(np.complex64)
    z = (u + 1j * v) / np.maximum(rho, np.float32(1e-12))
    acc = np.full(rho.shape, coefficients[-1], dtype=np.complex64)
    for coefficient in coefficients[-2::-1]:
        acc = acc * z + coefficient
    modulation = 1.0 + (acc * z ** int(HARMONIC_ORDERS[0])).real
    return rho / modulation


def ellipse_offsets(
    rho: np.ndarray, psi: np.ndarray, axes: np.ndarray, angle: float
) -> np.ndarray:
    """Offsets (dy, dx), shape (k, 2), px, of ellipse points at normalised polar (rho, psi)."""
    u = rho * axes[0] * np.cos(psi)
    v = rho * axes[1] * np.sin(psi)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([u * s + v * c, u * c - v * s], axis=1)


def cap_height(rho: np.ndarray, height: float, *, exponent: float = 2.0) -> np.ndarray:
    """Height profile ``height * sqrt(1 - rho**exponent)`` inside the outline, 0 outside (float32).

    ``exponent`` 2 is an ellipsoid; larger exponents give the flatter top and sloping edge of a
    spread cell.
    """
    inside = np.clip(1.0 - rho**exponent, 0.0, None)
    return (np.float32(height) * np.sqrt(inside)).astype(np.float32, copy=False)

"""Inside a nucleus: chromatin texture, heterochromatin foci, nucleoli and the lamina.

Each function works on one nucleus patch (a :class:`~stainworth.phantom.geometry.Window`) and
returns maps in physical units: path lengths in um, refractive-index excesses times path (optical
path difference, um) or label density times path (um). The refractive index (QPI) and the
H3K27me3 label share part of the texture (:func:`coupled_texture`) and the foci that carry the
mark; the marker may see a marked focus as a shell (:func:`shell_path`) where the phase sees it
filled.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from stainworth.phantom.geometry import Window, ellipse_offsets

FOCI_MAX_RHO = 0.85
"""Foci centres lie within this normalised radius of the nucleus."""
NUCLEOLI_MAX_RHO = 0.5
"""Nucleolus centres lie within this normalised radius of the nucleus."""
NUCLEOLUS_SIZE_SPREAD = 0.2
"""Relative spread (uniform, +/-) of nucleolus radii around a cell's mean."""
FOCUS_SIZE_SPREAD = 0.3
"""Relative spread (uniform, +/-) of focus radii around a cell's mean."""
SHELL_RADIUS_RATIO = 1.5
"""Outer radius of the H3K27me3 shell around a focus relative to the focus radius."""


def texture(
    rng: np.random.Generator, shape: tuple[int, int], *, fine_px: float, domain_px: float,
    domain_weight: float,
) -> np.ndarray:
    """Unit-variance two-scale Gaussian random field (chromatin density fluctuations).

    Parameters
    ----------
    rng
        Random generator.
    shape
        (h, w) of the patch.
    fine_px, domain_px
        Correlation lengths (standard deviation of the Gaussian autocorrelation) of the fine
        texture and of the mid-scale domains, px.
    domain_weight
        Share of the variance carried by the domains, in [0, 1].

    Returns
    -------
    numpy.ndarray
        (h, w) float32, zero mean and unit variance (estimated on the patch).
    """
    fields = []
    for length in (fine_px, domain_px):
        noise = rng.standard_normal(shape, dtype=np.float32)
        smooth = cv2.GaussianBlur(noise, (0, 0), length / math.sqrt(2.0),
                                  borderType=cv2.BORDER_REFLECT)
        centred = smooth - np.float32(smooth.mean())
        fields.append(centred / np.float32(max(float(centred.std()), 1e-12)))
    w = np.float32(domain_weight)
    return np.sqrt(1 - w) * fields[0] + np.sqrt(w) * fields[1]


def _points(
    rng: np.random.Generator, count: int, max_rho: float, axes: np.ndarray, angle: float
) -> np.ndarray:
    rho = max_rho * np.sqrt(rng.random(count))
    psi = rng.uniform(0.0, 2.0 * np.pi, count)
    return ellipse_offsets(rho, psi, axes, angle)


def coupled_texture(shared: np.ndarray, own: np.ndarray, coupling: float) -> np.ndarray:
    """The field ``c shared + sqrt(1 - c^2) own``, correlated c with ``shared``.

    Parameters
    ----------
    shared, own
        (h, w) float32 independent unit-variance fields of the same statistics (:func:`texture`).
    coupling
        Correlation c in [0, 1].

    Returns
    -------
    numpy.ndarray
        (h, w) float32 of unit variance; ``shared`` itself when c is 1.
    """
    if coupling >= 1.0:
        return shared
    c = np.float32(coupling)
    return c * shared + np.sqrt(np.float32(1.0) - c * c) * own


def draw_foci(
    rng: np.random.Generator, *, count: int, radius_px: float, axes: np.ndarray, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (uniform inside the inner 85 % of the nucleus) and radii of ``count`` foci.

    Returns
    -------
    centres : numpy.ndarray
        (count, 2) float64 offsets (dy, dx) from the nucleus centre, px.
    radii : numpy.ndarray
        (count,) float64 radii, px (``radius_px`` +/- 30 %).
    """
    if count <= 0:
        return np.zeros((0, 2)), np.zeros(0)
    centres = _points(rng, count, FOCI_MAX_RHO, axes, angle)
    radii = radius_px * rng.uniform(1 - FOCUS_SIZE_SPREAD, 1 + FOCUS_SIZE_SPREAD, count)
    return centres, radii


def sphere_path(
    win: Window, centres: np.ndarray, radii: np.ndarray, *, pixel_um: float
) -> np.ndarray:
    """Projected path length (um) through spheres at ``centres`` with ``radii`` (px).

    A sphere of radius r is drawn as the Gaussian of equal volume and peak chord 2r
    (standard deviation r / sqrt(3)).

    Returns
    -------
    numpy.ndarray
        (h, w) float32 path length in um.
    """
    if radii.size == 0:
        return np.zeros(win.shape, dtype=np.float32)
    sigma2 = 2.0 * (radii / math.sqrt(3.0)) ** 2
    gy = np.exp(-((win.dy[:, 0][None, :] - centres[:, :1]) ** 2) / sigma2[:, None])
    gx = np.exp(-((win.dx[0, :][None, :] - centres[:, 1:]) ** 2) / sigma2[:, None])
    peak = (2.0 * radii * pixel_um)[:, None]
    return ((gy * peak).T @ gx).astype(np.float32)


def shell_path(
    win: Window, centres: np.ndarray, radii: np.ndarray, *, pixel_um: float
) -> np.ndarray:
    """Label path (um) of shells around spheres, each holding its sphere's volume.

    A shell is the projection of a sphere of ``SHELL_RADIUS_RATIO`` x r minus that of radius r
    (both drawn as in :func:`sphere_path`, so the difference is non-negative: a ring with a
    shallower centre), scaled by 1 / (ratio^3 - 1) to the volume of the sphere of radius r.

    Returns
    -------
    numpy.ndarray
        (h, w) float32 path length in um.
    """
    outer = sphere_path(win, centres, SHELL_RADIUS_RATIO * radii, pixel_um=pixel_um)
    inner = sphere_path(win, centres, radii, pixel_um=pixel_um)
    scale = np.float32(1.0 / (SHELL_RADIUS_RATIO**3 - 1.0))
    return np.clip(outer - inner, 0.0, None) * scale


def nucleoli_chords(
    rng: np.random.Generator, win: Window, *, count: int, radius_px: float, axes: np.ndarray,
    angle: float, pixel_um: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Chord length (um) through spherical nucleoli and their projected occupancy in [0, 1].

    Returns
    -------
    chord : numpy.ndarray
        (h, w) float32 path length through nucleoli, um.
    occupancy : numpy.ndarray
        (h, w) float32 fraction of the column occupied by a nucleolus (1 at a nucleolus centre).
    """
    chord = np.zeros(win.shape, dtype=np.float32)
    occupancy = np.zeros(win.shape, dtype=np.float32)
    if count <= 0:
        return chord, occupancy
    centres = _points(rng, count, NUCLEOLI_MAX_RHO, axes, angle)
    radii = radius_px * rng.uniform(1 - NUCLEOLUS_SIZE_SPREAD, 1 + NUCLEOLUS_SIZE_SPREAD, count)
    for (cy, cx), radius in zip(centres, radii, strict=True):
        d2 = ((win.dy - np.float32(cy)) ** 2 + (win.dx - np.float32(cx)) ** 2) / np.float32(
            radius**2
        )
        column = np.sqrt(np.clip(1.0 - d2, 0.0, None))
        chord = np.maximum(chord, np.float32(2.0 * radius * pixel_um) * column)
        occupancy = np.maximum(occupancy, column)
    return chord, occupancy


def lamina_path(
    win: Window, rho: np.ndarray, *, height_um: float, shell_um: float, pixel_um: float,
    exponent: float,
) -> np.ndarray:
    """Projected path length (um) through the nuclear lamina, a thin shell of the nucleus.

    The nucleus is the body of height profile ``height_um * sqrt(1 - rho**exponent)`` (an
    ellipsoid for exponent 2) whose outline is ``rho == 1``; the shell is the difference between
    it and the same body shrunk by ``shell_um`` on every side. The projection is bright at the
    rim (tangential path) and about 2 x shell inside (top and bottom of the envelope).

    Returns
    -------
    numpy.ndarray
        (h, w) float32 path length in um.
    """
    r_px = np.sqrt(win.dy**2 + win.dx**2)
    safe_rho = np.maximum(rho, np.float32(1e-6))
    outline_r = np.where(rho > 1e-6, r_px / safe_rho, np.float32(np.inf))
    shell_px = np.float32(shell_um / pixel_um)
    inner_r = np.maximum(outline_r - shell_px, np.float32(1e-3))
    rho_inner = np.where(np.isfinite(outline_r), r_px / inner_r, np.float32(0.0))
    outer = height_um * np.sqrt(np.clip(1.0 - rho**exponent, 0.0, None))
    inner_height = max(height_um - 2.0 * shell_um, 0.0)
    inner = inner_height * np.sqrt(np.clip(1.0 - rho_inner**exponent, 0.0, None))
    return np.clip(outer - inner, 0.0, None).astype(np.float32)


def rim_modulation(win: Window, *, amplitude: float, order: int, phase: float) -> np.ndarray:
    """Angular modulation ``1 + m cos(k psi + psi0)`` of the lamina density about the centre.

    Parameters
    ----------
    win
        Nucleus patch; psi is the polar angle of each pixel about the patch centre.
    amplitude
        m in [0, 1], so the modulated density stays non-negative.
    order
        k, the number of periods around the rim.
    phase
        psi0, rad.

    Returns
    -------
    numpy.ndarray
        (h, w) float32 factor in [1 - m, 1 + m].
    """
    psi = np.arctan2(win.dy, win.dx)
    return (1.0 + np.float32(amplitude) * np.cos(np.float32(order) * psi + np.float32(phase))
            ).astype(np.float32)

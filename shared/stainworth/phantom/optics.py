"""Label-free image formation: through-focus intensities and TIE phase retrieval, per tile.

The sample is a thin complex transmittance ``exp((i - kappa) phi)``. Its field is propagated to
the two planes +/- dz with the angular-spectrum kernel limited by the objective pupil
(|f| <= NA / lambda); partially coherent illumination blurs each defocused intensity by the
disc that a condenser of numerical aperture NA_c sweeps at distance dz (radius
dz tan(asin(NA_c / n))). Both intensities get shot noise. The phase is then retrieved with the
transport-of-intensity equation under uniform intensity,
``phi = IFFT[FFT(k dI/dz / I0) q^2 / (q^4 + alpha)]``, q = 2 pi |f|, on a reflect-padded tile.

References
----------
Teague, M. R. Deterministic phase retrieval: a Green's function solution. JOSA 73(11),
1434-1441 (1983).
Paganin, D. & Nugent, K. A. Noninterferometric phase imaging with partially coherent light.
Physical Review Letters 80, 2586-2589 (1998). doi:10.1103/PhysRevLett.80.2586
Zuo, C. et al. Transport of intensity equation: a tutorial. Optics and Lasers in Engineering
135, 106187 (2020). doi:10.1016/j.optlaseng.2020.106187
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy import special

from stainworth.contracts.phantom import OpticsConfig
from stainworth.phantom.camera import shot_noise


@dataclass(frozen=True)
class TieKernels:
    """Transfer functions for one tile size (computed once per acquisition)."""

    tile_px: int
    """Side of the recorded tile, px."""
    margin_px: int
    """Sample margin propagated around the tile, px."""
    pad_px: int
    """Reflect padding of the TIE solve, px."""
    propagate: tuple[np.ndarray, np.ndarray]
    """complex64 (S, S) angular-spectrum kernels to +dz and -dz, S = tile + 2 margin."""
    coherence: np.ndarray
    """float32 (S, S // 2 + 1) partial-coherence envelope of the intensity spectrum."""
    inverse_laplacian: np.ndarray
    """float32 (P, P // 2 + 1) regularised TIE filter times k, P = tile + 2 pad."""


def _frequencies(size: int, pixel_um: float, *, real: bool) -> np.ndarray:
    fy = sfft.fftfreq(size, d=pixel_um)
    fx = sfft.rfftfreq(size, d=pixel_um) if real else fy
    return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def fast_margin(tile_px: int, margin_px: int) -> int:
    """Smallest margin >= ``margin_px`` making ``tile + 2 margin`` a fast FFT length."""
    margin = margin_px
    while sfft.next_fast_len(tile_px + 2 * margin) != tile_px + 2 * margin:
        margin += 1
    return margin


def build_kernels(optics: OpticsConfig, *, tile_px: int) -> TieKernels:
    """Precompute the propagation, coherence and TIE kernels for tiles of ``tile_px``.

    Parameters
    ----------
    optics
        Optics configuration.
    tile_px
        Side of a square tile, px.

    Returns
    -------
    TieKernels
    """
    pixel = optics.pixel_size_um
    margin = fast_margin(tile_px, optics.propagation_margin_px)
    pad = fast_margin(tile_px, optics.tie_padding_px)
    size = tile_px + 2 * margin
    k_medium = 2.0 * math.pi * optics.n_medium / optics.wavelength_um
    f = _frequencies(size, pixel, real=False)
    pupil = f <= optics.objective_na / optics.wavelength_um
    kz = 2.0 * math.pi * np.sqrt(
        np.clip((optics.n_medium / optics.wavelength_um) ** 2 - f**2, 0.0, None)
    )
    kernels = tuple(
        (pupil * np.exp(1j * (kz - k_medium) * sign * optics.defocus_um)).astype(np.complex64)
        for sign in (1.0, -1.0)
    )
    sin_c = optics.condenser_na / optics.n_medium
    blur_radius = optics.defocus_um * sin_c / math.sqrt(1.0 - sin_c**2)
    x = 2.0 * math.pi * blur_radius * _frequencies(size, pixel, real=True)
    safe = np.where(x > 1e-8, x, 1.0)
    coherence = np.where(x > 1e-8, 2.0 * special.j1(safe) / safe, 1.0).astype(np.float32)
    q2 = (2.0 * math.pi * _frequencies(tile_px + 2 * pad, pixel, real=True)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = k_medium * q2 / (q2**2 + optics.tie_regularization)
    inverse[0, 0] = 0.0
    return TieKernels(tile_px=tile_px, margin_px=margin, pad_px=pad,
                      propagate=(kernels[0], kernels[1]), coherence=coherence,
                      inverse_laplacian=np.nan_to_num(inverse).astype(np.float32))


def defocused_intensities(
    phase: np.ndarray, kernels: TieKernels, optics: OpticsConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free intensities at +dz and -dz (unit incident intensity), cropped to the tile.

    Parameters
    ----------
    phase
        (S, S) float32 true phase (rad) of the tile plus its propagation margin.

    Returns
    -------
    tuple of numpy.ndarray
        Two (T, T) float32 intensity images.
    """
    if phase.shape != kernels.propagate[0].shape:
        raise ValueError(f"phase window {phase.shape} does not match {kernels.propagate[0].shape}")
    phase = phase.astype(np.float32, copy=False)
    amplitude = np.exp(np.float32(-optics.absorption_ratio) * phase)
    field = np.empty(phase.shape, dtype=np.complex64)
    field.real = amplitude * np.cos(phase)
    field.imag = amplitude * np.sin(phase)
    spectrum = sfft.fft2(field)
    m, t = kernels.margin_px, kernels.tile_px
    images = []
    for kernel in kernels.propagate:
        defocused = sfft.ifft2(spectrum * kernel)
        intensity = (defocused.real**2 + defocused.imag**2).astype(np.float32)
        blurred = sfft.irfft2(sfft.rfft2(intensity) * kernels.coherence, s=intensity.shape)
        images.append(blurred[m:m + t, m:m + t].astype(np.float32))
    return images[0], images[1]


def retrieve_phase(
    plus: np.ndarray, minus: np.ndarray, kernels: TieKernels, optics: OpticsConfig
) -> np.ndarray:
    """TIE phase from the two defocused intensities with Tikhonov regularisation.

    Returns
    -------
    numpy.ndarray
        (T, T) float32 phase in rad, zero mean over the padded tile (TIE has no absolute phase).
    """
    in_focus = float(0.5 * (plus.mean() + minus.mean()))
    derivative = (plus - minus) / np.float32(2.0 * optics.defocus_um * max(in_focus, 1e-6))
    pad = kernels.pad_px
    padded = np.pad(derivative, pad, mode="reflect") if pad else derivative
    solved = sfft.irfft2(sfft.rfft2(padded) * kernels.inverse_laplacian, s=padded.shape)
    t = kernels.tile_px
    return solved[pad:pad + t, pad:pad + t].astype(np.float32)


def measure_qpi_tile(
    phase: np.ndarray, kernels: TieKernels, optics: OpticsConfig, rng: np.random.Generator
) -> np.ndarray:
    """One recorded QPI tile: propagate, add shot noise to both planes, retrieve by TIE.

    Parameters
    ----------
    phase
        (T + 2 margin, T + 2 margin) float32 true phase around the tile, rad.
    kernels
        Output of :func:`build_kernels` for this tile size.
    optics
        Optics configuration (``photons_per_pixel`` sets the shot noise).
    rng
        Random generator for the shot noise.

    Returns
    -------
    numpy.ndarray
        (T, T) float32 retrieved phase, rad.
    """
    photons = np.float32(optics.photons_per_pixel)
    plus, minus = defocused_intensities(phase, kernels, optics)
    noisy = [shot_noise(rng, image * photons) / photons for image in (plus, minus)]
    return retrieve_phase(noisy[0], noisy[1], kernels, optics)

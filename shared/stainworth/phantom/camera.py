"""Widefield fluorescence blur and camera noise (shot noise, read noise, gain, offset).

References
----------
Zhang, B., Zerubia, J. & Olivo-Marin, J.-C. Gaussian approximations of fluorescence microscope
point-spread function models. Applied Optics 46(10), 1819-1829 (2007). doi:10.1364/AO.46.001819
"""

from __future__ import annotations

import cv2
import numpy as np

from stainworth.contracts.phantom import FluorescenceConfig

GAUSSIAN_PSF_FACTOR = 0.21
"""sigma = 0.21 lambda_em / NA: Gaussian fit of the widefield (paraxial) in-focus PSF."""
EXACT_POISSON_BELOW = 30.0
"""Means (electrons) below this are drawn from the Poisson law; above, from its normal limit."""
UINT16_MAX = 65535
HAZE_COARSE_SIGMA_PX = 2.0
"""The haze is blurred on a grid coarsened so that its sigma stays at least this many cells."""


def psf_sigma_px(emission_um: float, na: float, pixel_um: float) -> float:
    """Standard deviation of the Gaussian widefield PSF, in px (Zhang et al. 2007)."""
    return GAUSSIAN_PSF_FACTOR * emission_um / na / pixel_um


def widefield_blur(
    amount: np.ndarray, *, sigma_px: float, haze_fraction: float, haze_sigma_px: float
) -> np.ndarray:
    """In-focus Gaussian PSF plus a broad out-of-focus haze.

    Parameters
    ----------
    amount
        (H, W) float32 label amount (any linear unit).
    sigma_px
        In-focus PSF standard deviation, px.
    haze_fraction
        Share of the light spread by the haze, in [0, 1].
    haze_sigma_px
        Haze standard deviation, px.

    Returns
    -------
    numpy.ndarray
        (H, W) float32 blurred amount (total preserved).
    """
    image = np.ascontiguousarray(amount, dtype=np.float32)
    sharp = cv2.GaussianBlur(image, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    if haze_fraction <= 0:
        return sharp
    return cv2.addWeighted(sharp, 1.0 - haze_fraction, _haze(image, haze_sigma_px),
                           haze_fraction, 0.0)


def _haze(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Broad Gaussian blur, computed on a grid coarser by up to 4 when the blur allows it."""
    factor = int(min(4, sigma_px // HAZE_COARSE_SIGMA_PX))
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    height, width = image.shape
    small = cv2.resize(image, (-(-width // factor), -(-height // factor)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def shot_noise(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Poisson-distributed counts with the given means (float32 array of integer values).

    Means below :data:`EXACT_POISSON_BELOW` are drawn exactly; larger ones from the normal
    approximation N(mean, mean) rounded to integers (skewness error < 0.19), which is an order
    of magnitude faster.
    """
    mean = np.clip(mean, 0.0, None).astype(np.float32, copy=False)
    counts = mean + np.sqrt(mean) * rng.standard_normal(mean.shape, dtype=np.float32)
    low = mean < EXACT_POISSON_BELOW
    if np.any(low):
        counts[low] = rng.poisson(mean[low])
    return np.clip(np.rint(counts), 0.0, None)


def camera_counts(
    rng: np.random.Generator, electrons: np.ndarray, camera: FluorescenceConfig
) -> np.ndarray:
    """Camera frame from the expected signal electrons of each pixel.

    ``counts = offset + gain * (Poisson(signal + background) + N(0, read_noise^2))``, rounded
    and clipped to the uint16 range. Where the mean exceeds :data:`EXACT_POISSON_BELOW`, shot
    and read noise are drawn together from their normal limit N(mean, mean + read_noise^2).

    Parameters
    ----------
    rng
        Random generator.
    electrons
        (h, w) expected signal electrons per pixel (without background).
    camera
        Background, gain, offset and read noise.

    Returns
    -------
    numpy.ndarray
        (h, w) uint16 camera counts (ADU).
    """
    mean = np.clip(electrons + np.float32(camera.background_photons), 0.0, None)
    mean = mean.astype(np.float32, copy=False)
    read2 = np.float32(camera.read_noise_electrons**2)
    detected = mean + np.sqrt(mean + read2) * rng.standard_normal(mean.shape, dtype=np.float32)
    low = mean < EXACT_POISSON_BELOW
    if np.any(low):
        exact = rng.poisson(mean[low]).astype(np.float32)
        detected[low] = exact + np.sqrt(read2) * rng.standard_normal(exact.size, dtype=np.float32)
    gain = np.float32(camera.camera_gain_adu_per_electron)
    adu = np.float32(camera.camera_offset_adu) + gain * detected
    return np.clip(np.rint(adu), 0, UINT16_MAX).astype(np.uint16)

"""Fourier ring correlation resolution against cases with a known answer."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.optimize import brentq
from scipy.special import j0

from stainworth.errors import InputDataError
from stainworth.stainers.resolution import FRC_THRESHOLD, NYQUIST_PX, fourier_ring_correlation, frc_resolution


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).normal(size=(256, 256))


def test_identical_or_rescaled_images_resolve_to_nyquist(noise):
    frequencies, frc = fourier_ring_correlation(noise, 3 * noise + 2)
    assert frequencies[0] == pytest.approx(1 / 256) and frequencies[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(frc, 1.0, atol=1e-9)
    assert frc_resolution(noise, noise) == NYQUIST_PX


@pytest.mark.parametrize(("sigma", "noise_var"), [(1.5, 0.01), (2.0, 0.01), (3.0, 0.001)])
def test_a_blur_of_known_width_under_known_noise_resolves_where_theory_says(noise, sigma, noise_var):
    """White signal of variance 1, Gaussian blur of ``sigma`` px, white noise: FRC(f) = H / sqrt(H² + N),
    H = exp(-2 π² σ² f²), so FRC = 1/7 where H² = N / 48."""
    blurred = gaussian_filter(noise, sigma, mode="wrap")
    observed = blurred + np.random.default_rng(1).normal(scale=np.sqrt(noise_var), size=noise.shape)
    expected = 1 / np.sqrt(-np.log(np.sqrt(noise_var / 48)) / (2 * np.pi**2 * sigma**2))
    assert frc_resolution(observed, noise) == pytest.approx(expected, rel=0.08)


@pytest.mark.parametrize("shift", [2, 3, 5])
def test_a_pure_shift_resolves_where_the_ring_average_of_its_phase_says(noise, shift):
    """A shift of d px multiplies each ring by the mean of cos(2 π f d cos θ) = J0(2 π f d)."""
    z = brentq(lambda value: j0(value) - FRC_THRESHOLD, 1.0, 2.4)
    assert frc_resolution(np.roll(noise, shift, axis=1), noise) == pytest.approx(2 * np.pi * shift / z, rel=0.12)


def test_images_sharing_nothing_have_no_resolution_worth_the_name(noise):
    others = [np.random.default_rng(seed).normal(size=noise.shape) for seed in range(2, 8)]
    found = np.array([frc_resolution(other, noise) for other in others])
    assert np.all(np.isnan(found) | (found > 64))


def test_images_of_different_shapes_are_refused():
    with pytest.raises(InputDataError, match=r"images of shapes \(16, 16\) and \(16, 8\)"):
        frc_resolution(np.zeros((16, 16)), np.zeros((16, 8)))

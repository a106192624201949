import numpy as np
import pytest
from scipy import ndimage

from stainworth.contracts.phantom import OpticsConfig, PhantomConfig
from stainworth.phantom import generate_acquisition
from stainworth.phantom.camera import camera_counts, psf_sigma_px, shot_noise
from stainworth.phantom.optics import (
    build_kernels,
    defocused_intensities,
    measure_qpi_tile,
    retrieve_phase,
)

TILE = 256


def bump_phase(kernels, *, sigma_px=6.0, peak=1.5):
    size = kernels.propagate[0].shape[0]
    y, x = np.mgrid[:size, :size] - size / 2
    return (peak * np.exp(-(x**2 + y**2) / (2 * sigma_px**2))).astype(np.float32)


def crop(window, kernels):
    m = kernels.margin_px
    return window[m:m + kernels.tile_px, m:m + kernels.tile_px]


def pearson(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_noise_free_tie_recovers_a_phase_bump_with_the_right_sign():
    optics = OpticsConfig()
    kernels = build_kernels(optics, tile_px=TILE)
    phase = bump_phase(kernels)
    plus, minus = defocused_intensities(phase, kernels, optics)
    assert plus[TILE // 2, TILE // 2] > 1.0 > minus[TILE // 2, TILE // 2]  # converging bump
    recovered = retrieve_phase(plus, minus, kernels, optics)
    truth = crop(phase, kernels)
    assert pearson(recovered, truth) > 0.97
    assert recovered[TILE // 2, TILE // 2] > 0.8 * truth.max() + recovered.mean()


def test_defocused_intensity_conserves_energy_and_pupil_cuts_fine_detail():
    optics = OpticsConfig(absorption_ratio=0.0)
    kernels = build_kernels(optics, tile_px=TILE)
    fine = bump_phase(kernels, sigma_px=0.5, peak=0.3)
    plus, _ = defocused_intensities(fine, kernels, optics)
    assert abs(plus.mean() - 1.0) < 1e-3
    spectrum = np.abs(kernels.propagate[0])
    assert spectrum.max() == pytest.approx(1.0, abs=1e-6)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(spectrum.shape[0], 0.32),
                              np.fft.fftfreq(spectrum.shape[0], 0.32)))
    assert np.all(spectrum[f > optics.objective_na / optics.wavelength_um + 1e-9] == 0)


def test_partial_coherence_blurs_the_defocused_images():
    contrasts = []
    for condenser_na in (0.0, 0.38):
        optics = OpticsConfig(condenser_na=condenser_na, defocus_um=4.0)
        kernels = build_kernels(optics, tile_px=TILE)
        plus, _ = defocused_intensities(bump_phase(kernels, sigma_px=3.0), kernels, optics)
        contrasts.append(plus.std())
    assert contrasts[1] < 0.9 * contrasts[0]


def test_phase_noise_falls_with_more_photons():
    spread = []
    for photons in (500.0, 50000.0):
        optics = OpticsConfig(photons_per_pixel=photons)
        kernels = build_kernels(optics, tile_px=TILE)
        phase = bump_phase(kernels)
        tiles = [measure_qpi_tile(phase, kernels, optics, np.random.default_rng(s)) for s in (1, 2)]
        spread.append(np.std(tiles[0] - tiles[1]))
    assert spread[1] < spread[0] / 5


@pytest.fixture(scope="module")
def acquisition():
    config = PhantomConfig.model_validate(
        {"acquisition": {"rows": 1, "cols": 2, "tile_size_px": TILE}})
    return config, generate_acquisition(config, condition="control", seed=11)


def clean_tile(acq, k):
    y, x = acq.true_positions[k]
    return acq.qpi_clean[y:y + TILE, x:x + TILE]


def test_retrieved_tiles_correlate_with_the_true_phase(acquisition):
    _, acq = acquisition
    for k in range(len(acq.qpi_tiles)):
        assert pearson(acq.qpi_tiles[k], clean_tile(acq, k)) > 0.8


def test_tie_adds_cloudy_low_frequency_background_and_loses_fine_detail(acquisition):
    config, acq = acquisition
    measured, clean = acq.qpi_tiles[0], clean_tile(acq, 0)
    background = ndimage.binary_erosion(clean == 0, iterations=6)
    assert background.mean() > 0.1
    cloud = ndimage.gaussian_filter(measured, 8)[background]
    assert cloud.std() > 0.02  # the true background is exactly flat
    error = measured - clean
    power = np.abs(np.fft.fft2(error - error.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(TILE), np.fft.fftfreq(TILE)))
    low = f < 0.03
    assert low.mean() < 0.01 and power[low].sum() > 0.5 * power.sum()
    cutoff = config.optics.objective_na / config.optics.wavelength_um * config.optics.pixel_size_um

    def transfer(band):  # share of the true phase in the band that the measurement keeps
        m, c = np.fft.fft2(measured)[band], np.fft.fft2(clean)[band]
        return float(np.real((m * c.conj()).sum()) / (np.abs(c) ** 2).sum())

    assert transfer((f >= 0.02) & (f < 0.08)) > 0.6
    assert abs(transfer(f > cutoff)) < 0.35


def test_camera_counts_follow_offset_gain_and_noise():
    camera = PhantomConfig().fluorescence
    rng = np.random.default_rng(0)
    signal = np.full((200, 200), 1000.0, dtype=np.float32)
    counts = camera_counts(rng, signal, camera)
    assert counts.dtype == np.uint16
    gain = camera.camera_gain_adu_per_electron
    electrons = (counts.astype(float) - camera.camera_offset_adu) / gain
    assert electrons.mean() == pytest.approx(1060.0, rel=0.01)
    assert electrons.var() == pytest.approx(1060.0 + camera.read_noise_electrons**2, rel=0.05)
    dark = camera_counts(rng, np.zeros((200, 200), np.float32), camera.model_copy(
        update={"background_photons": 2.0, "read_noise_electrons": 0.0}))
    dark_electrons = (dark.astype(float) - camera.camera_offset_adu) / 2.0
    assert np.allclose(dark_electrons, np.round(dark_electrons))  # exact Poisson counts
    assert dark_electrons.var() == pytest.approx(2.0, rel=0.1)


def test_shot_noise_is_poisson_at_low_and_high_means():
    rng = np.random.default_rng(3)
    for mean in (4.0, 400.0):
        draws = shot_noise(rng, np.full(40000, mean, dtype=np.float32))
        assert draws.mean() == pytest.approx(mean, rel=0.02)
        assert draws.var() == pytest.approx(mean, rel=0.05)


def test_psf_width_follows_the_gaussian_approximation():
    assert psf_sigma_px(0.52, 0.4, 0.32) == pytest.approx(0.21 * 0.52 / 0.4 / 0.32)

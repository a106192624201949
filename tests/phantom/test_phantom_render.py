import math

import numpy as np
import pytest

from stainworth.phantom import chromatin
from stainworth.phantom.geometry import cap_height, ellipse_offsets, outline_distance, window

PIXEL = 0.32


def test_outline_distance_is_one_on_the_rotated_ellipse():
    win = window((50.0, 50.0), 50, (101, 101))
    axes, angle = np.array([30.0, 15.0]), math.radians(30)
    rho = outline_distance(win, axes, angle, np.zeros((3, 2)))
    offsets = ellipse_offsets(np.ones(8), np.linspace(0, 2 * np.pi, 8, endpoint=False), axes,
                              angle)
    for dy, dx in np.rint(offsets).astype(int):
        assert rho[50 + dy, 50 + dx] == pytest.approx(1.0, abs=0.06)
    assert rho[50, 50] == 0.0


def test_harmonics_deform_the_outline():
    win = window((50.0, 50.0), 50, (101, 101))
    axes = np.array([30.0, 30.0])
    harmonics = np.array([[0.2, 0.0], [0.0, 0.0], [0.0, 0.0]])  # order 2 along x and y
    rho = outline_distance(win, axes, 0.0, harmonics)
    assert rho[50, 50 + 36] == pytest.approx(1.0, abs=0.02)  # radius 30 * 1.2 along x
    assert rho[50 + 24, 50] == pytest.approx(1.0, abs=0.02)  # radius 30 * 0.8 along y


def test_window_is_clipped_to_the_field():
    win = window((2.0, 97.0), 10, (100, 100))
    assert (win.rows, win.cols) == (slice(0, 13), slice(87, 100))
    assert win.dy[0, 0] == -2.0 and win.dx[0, -1] == 2.0
    assert window((-50.0, -50.0), 10, (100, 100)) is None


def test_cap_height_profile():
    rho = np.array([0.0, 0.5, 1.0, 1.5], dtype=np.float32)
    assert cap_height(rho, 6.0).tolist() == pytest.approx([6.0, 6.0 * math.sqrt(0.75), 0, 0])
    flat = cap_height(rho, 6.0, exponent=4.0)
    assert flat[1] > cap_height(rho, 6.0)[1]


def test_texture_is_unit_variance_and_coarsens_with_correlation_length():
    rng = np.random.default_rng(0)
    fine = chromatin.texture(rng, (128, 128), fine_px=1.0, domain_px=4.0, domain_weight=0.0)
    coarse = chromatin.texture(rng, (128, 128), fine_px=3.0, domain_px=4.0, domain_weight=0.0)
    assert fine.std() == pytest.approx(1.0, abs=1e-3) and abs(fine.mean()) < 1e-3

    def neighbour_correlation(field):
        return np.corrcoef(field[:, :-2].ravel(), field[:, 2:].ravel())[0, 1]

    assert neighbour_correlation(coarse) > neighbour_correlation(fine) + 0.3


def test_foci_have_the_volume_of_their_spheres():
    win = window((40.0, 40.0), 40, (81, 81))
    rng = np.random.default_rng(1)
    axes = np.array([25.0, 20.0])
    path = chromatin.foci_path(rng, win, count=12, radius_px=1.5, axes=axes, angle=0.3,
                               pixel_um=PIXEL)
    rng = np.random.default_rng(1)
    chromatin._points(rng, 12, chromatin.FOCI_MAX_RHO, axes, 0.3)
    radii_um = 1.5 * rng.uniform(0.7, 1.3, 12) * PIXEL
    volume = path.sum() * PIXEL**2
    assert volume == pytest.approx(np.sum(4 / 3 * np.pi * radii_um**3), rel=0.02)
    assert path.max() <= 2 * radii_um.max() * 1.5


def test_nucleoli_chords_peak_at_their_diameter():
    win = window((40.0, 40.0), 40, (81, 81))
    chord, occupancy = chromatin.nucleoli_chords(
        np.random.default_rng(2), win, count=1, radius_px=5.0, axes=np.array([25.0, 20.0]),
        angle=0.0, pixel_um=PIXEL)
    assert 0.9 < occupancy.max() <= 1.0
    assert 2 * 4 * PIXEL < chord.max() <= 2 * 6 * PIXEL
    assert np.count_nonzero(occupancy) == pytest.approx(np.pi * 25, rel=0.6)


def test_lamina_projection_is_a_bright_rim_around_a_dim_interior():
    win = window((40.0, 40.0), 40, (81, 81))
    rho = outline_distance(win, np.array([20.0, 20.0]), 0.0, np.zeros((3, 2)))
    path = chromatin.lamina_path(win, rho, height_um=6.0, shell_um=0.4, pixel_um=PIXEL,
                                 exponent=2.0)
    assert path[40, 40] == pytest.approx(0.8, abs=0.01)  # top and bottom shells
    assert path[40, 40 + 19] > 2 * path[40, 40]  # tangential path at the rim
    assert path[40, 40 + 22] == 0.0

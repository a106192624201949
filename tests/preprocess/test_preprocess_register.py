"""Registration against the phantom's known misregistration; warping; failure."""

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.preprocess.register import apply_affine, register_affine, warp_to_fixed


@pytest.fixture(scope="module")
def registration(stitched):
    _, label_free, fluorescence, _ = stitched
    return register_affine(label_free, fluorescence[1], window=384, windows=16)


def truth_error(acquisition, stitched, matrix):
    _, label_free, _, offset = stitched
    xy_offset = offset[::-1].astype(float)
    ys, xs = np.mgrid[0:label_free.shape[0]:40, 0:label_free.shape[1]:40]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    expected = apply_affine(acquisition.fluorescence_to_qpi, points - xy_offset) + xy_offset
    return np.linalg.norm(apply_affine(matrix, points) - expected, axis=1)


def test_recovers_the_known_affine(acquisition, stitched, registration):
    error = truth_error(acquisition, stitched, registration.matrix)
    assert np.sqrt(np.mean(error**2)) < 1.0  # 1060 px mosaic; the 0.5 px goal is for full-size mosaics
    assert registration.n_inliers >= 12 and registration.windows_used >= 6
    assert truth_error(acquisition, stitched, np.eye(2, 3)).max() > 1.5  # misregistration was real


def test_warp_brings_fluorescence_onto_label_free(stitched, registration):
    _, label_free, fluorescence, _ = stitched
    before = np.corrcoef(label_free.ravel(), fluorescence[1].ravel())[0, 1]
    warped = np.zeros_like(fluorescence)
    warp_to_fixed(fluorescence, registration.matrix, warped, block=300)
    after = np.corrcoef(label_free.ravel(), warped[1].ravel())[0, 1]
    assert after > before


def test_warp_is_independent_of_block_size(stitched, registration):
    _, _, fluorescence, _ = stitched
    one, other = np.zeros_like(fluorescence[0]), np.zeros_like(fluorescence[0])
    warp_to_fixed(fluorescence[0], registration.matrix, one, block=256)
    warp_to_fixed(fluorescence[0], registration.matrix, other, block=1000)
    # OpenCV interpolates with 1/32 px fixed-point coordinates, whose rounding depends on the block origin
    np.testing.assert_allclose(one, other, rtol=1e-3, atol=1e-3)


def test_too_few_matches_one_line(stitched):
    _, label_free, _, _ = stitched
    noise = np.random.default_rng(1).normal(size=label_free.shape).astype(np.float32)
    with pytest.raises(InputDataError, match=r"registration: \d+ inlier matches of \d+ found .* at least 12 needed"):
        register_affine(label_free, noise)

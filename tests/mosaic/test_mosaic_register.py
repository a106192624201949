"""Registration against the phantom's known misregistration; warping; failures."""

import tracemalloc

import numpy as np
import pytest

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import InputDataError
from stainworth.mosaic import (
    ChannelView,
    apply_affine,
    assemble_mosaic,
    check_overlap,
    create_array,
    estimate_tile_positions,
    invert_affine,
    overlap_fraction,
    register_affine,
    warp_to_fixed,
)
from stainworth.mosaic.register import coarse_scale
from stainworth.mosaic.warp import compose_affine, translation

TILE = 384


@pytest.fixture(scope="module")
def acquisition():
    from stainworth.phantom import generate_acquisition

    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": TILE, "overlap": 0.12,
                                        "stage_jitter_px": 3.0})
    return generate_acquisition(config, condition="control", seed=0)


@pytest.fixture(scope="module")
def mosaics(acquisition):
    """Stitched label-free (H, W) and fluorescence (2, H, W) mosaics and the true affine in their frame."""
    result = estimate_tile_positions(lambda k: acquisition.qpi_tiles[k], acquisition.nominal_positions,
                                     acquisition.tile_index, (TILE, TILE))
    label_free = np.zeros(result.mosaic_shape, np.float32)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], result.positions, label_free)
    fluorescence = np.zeros((2, *result.mosaic_shape), np.float32)
    assemble_mosaic(lambda k: np.stack([acquisition.fluorescence_tiles[c][k] for c in ("lamin_a_c", "h3k27me3")]),
                    result.positions, fluorescence)
    offset = acquisition.true_positions - np.rint(result.positions)
    assert np.all(offset == offset[0])
    shift = offset[0][::-1].astype(float)  # (x, y): mosaic pixel p is phantom pixel p + shift
    truth = compose_affine(translation(*-shift), compose_affine(acquisition.fluorescence_to_qpi, translation(*shift)))
    return label_free, fluorescence, truth


@pytest.fixture(scope="module")
def registration(mosaics, tmp_path_factory):
    """Registration of the H3K27me3 channel, read from zarr arrays on disk."""
    label_free, fluorescence, _ = mosaics
    folder = tmp_path_factory.mktemp("mosaics")
    fixed = create_array(folder / "label_free.zarr", label_free.shape, chunk=256)
    fixed[:] = label_free
    stack = create_array(folder / "fluorescence.zarr", fluorescence.shape, chunk=256)
    stack[:] = fluorescence
    return register_affine(fixed, ChannelView(stack, 1), window_px=512)


def rms_error(matrix, truth, shape, step=16):
    ys, xs = np.mgrid[0:shape[0]:step, 0:shape[1]:step]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    error = np.linalg.norm(apply_affine(matrix, points) - apply_affine(truth, points), axis=1)
    return float(np.sqrt(np.mean(error**2)))


def test_recovers_the_phantom_affine(mosaics, registration):
    label_free, _, truth = mosaics
    assert rms_error(np.eye(2, 3), truth, label_free.shape) > 1.5  # the misregistration is real
    assert rms_error(registration.matrix, truth, label_free.shape) < 0.5
    assert registration.n_inliers >= 12 and registration.coarse_inliers >= 12
    assert registration.n_matches >= registration.n_inliers and registration.residual_px_rms < 1.0
    assert abs(registration.scale - 1) < 0.01 and abs(registration.rotation_deg) < 1.0


def test_moving_mosaic_of_another_size(mosaics):
    label_free, fluorescence, truth = mosaics
    cropped = fluorescence[1, 50:, 20:]  # moving pixel m is pixel m + (20, 50) of the full mosaic
    found = register_affine(label_free, cropped)
    assert rms_error(found.matrix, compose_affine(truth, translation(20, 50)), label_free.shape) < 0.5


def test_warp_round_trip_recovers_a_known_affine(mosaics):
    label_free, _, _ = mosaics
    height, width = label_free.shape
    centre = np.array([width / 2, height / 2])
    angle, scale = np.radians(0.4), 1.003
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    known = np.hstack([linear, (centre - linear @ centre + (4.3, -2.7))[:, None]])  # moving -> fixed
    moving = np.zeros_like(label_free)
    warp_to_fixed(label_free, invert_affine(known), moving, block=400)  # moving(m) = fixed(known m)
    found = register_affine(label_free, moving)
    assert rms_error(found.matrix, known, label_free.shape) < 0.2
    back = np.full_like(label_free, np.nan)
    warp_to_fixed(moving, found.matrix, back, fill=np.nan)
    inner = (slice(20, -20), slice(20, -20))
    assert np.corrcoef(back[inner].ravel(), label_free[inner].ravel())[0, 1] > 0.97


def test_warp_brings_fluorescence_onto_label_free(mosaics, registration):
    label_free, fluorescence, truth = mosaics
    warped = np.zeros_like(fluorescence)
    warp_to_fixed(fluorescence, registration.matrix, warped, block=300)
    ideal = np.zeros_like(fluorescence)
    warp_to_fixed(fluorescence, truth, ideal, block=300)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    difference = np.abs(warped[inner] - ideal[inner]).mean() / np.abs(np.diff(ideal[inner], axis=-1)).mean()
    assert difference < 0.25  # well below one pixel of displacement


def test_warp_block_size_and_fill(mosaics, registration):
    _, fluorescence, _ = mosaics
    one, other = np.zeros_like(fluorescence[0]), np.zeros_like(fluorescence[0])
    warp_to_fixed(fluorescence[0], registration.matrix, one, block=256)
    warp_to_fixed(fluorescence[0], registration.matrix, other, block=1024)
    # OpenCV interpolates at 1/32 px fixed-point coordinates rounded relative to the block origin
    np.testing.assert_allclose(one, other, rtol=0, atol=2e-3 * float(np.ptp(fluorescence[0])))
    outside = np.zeros((20, 30), np.float32)
    warp_to_fixed(np.ones((10, 10), np.float32), translation(15, 0), outside, fill=np.nan, block=8)
    assert np.all(outside[:10, 15:25] == 1) and np.isnan(outside[:10, :14]).all() and np.isnan(outside[11:]).all()
    nearest = np.zeros((1, 4, 4), np.float32)
    warp_to_fixed(np.arange(16, dtype=np.float32).reshape(1, 4, 4), translation(1, 0), nearest, order=0)
    assert nearest[0, 0, 1] == 0 and nearest[0, 0, 2] == 1


def test_warp_memory_does_not_grow_with_mosaic_area():
    def peak(side):
        moving = np.random.default_rng(0).random((side, side), dtype=np.float32)
        out = np.zeros_like(moving)
        tracemalloc.start()
        warp_to_fixed(moving, np.array([[1.0, 0.002, 3.2], [-0.002, 1.0, -1.7]]), out, block=128)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    assert peak(1536) < 1.5 * peak(512)  # 9x the area


def test_too_few_matches_is_one_line(mosaics):
    label_free, _, _ = mosaics
    noise = np.random.default_rng(1).normal(size=label_free.shape).astype(np.float32)
    with pytest.raises(InputDataError, match=r"^registration: \d+ inlier matches of \d+ found on the mosaics reduced "
                                             r"1\.0x, at least 12 needed \(fixed 1060x1060, moving 1060x1060\)$"):
        register_affine(label_free, noise)


def test_fluorescence_covering_too_little_is_refused(mosaics, registration):
    label_free, fluorescence, _ = mosaics
    assert check_overlap(label_free.shape, fluorescence.shape, registration.matrix) > 0.98
    half = np.array([[1.0, 0.0, 0.6 * label_free.shape[1]], [0.0, 1.0, 0.0]])
    assert overlap_fraction(label_free.shape, fluorescence.shape[-2:], half) == pytest.approx(0.4, abs=0.01)
    with pytest.raises(InputDataError, match=r"^registration: the fluorescence covers 40% of the label-free frame "
                                             r"after registration, at least 50% needed"):
        check_overlap(label_free.shape, fluorescence.shape, half)


def test_bad_mosaics_are_refused(mosaics):
    label_free, fluorescence, _ = mosaics
    with pytest.raises(InputDataError, match=r"fluorescence \(moving\) mosaic has shape \(2, 1060, 1060\)"):
        register_affine(label_free, fluorescence)
    broken = label_free.copy()
    broken[500, 500] = np.nan
    with pytest.raises(InputDataError, match=r"the label-free \(fixed\) mosaic has NaN/Inf pixels"):
        register_affine(broken, fluorescence[1])
    with pytest.raises(InputDataError, match="interpolation order 2"):
        warp_to_fixed(label_free, np.eye(2, 3), np.zeros_like(label_free), order=2)


def test_coarse_copies_have_a_fixed_size():
    for longest in (3000, 4223, 8369, 19000):
        factor, scale = coarse_scale(longest, 2048)
        assert round(-(-longest // factor) * scale) == 2048
    assert coarse_scale(1060, 2048) == (1, 1.0)

import re

import cv2
import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError, InputDataError
from stainworth.labels import clean_labels, label_nuclei_classical, label_quality
from stainworth.labels.blockwise import (
    block_windows,
    classical_threshold,
    halo_for,
    label_blockwise,
    sampled_percentiles,
)
from stainworth.labels.quality import label_quality_blocks
from stainworth.phantom import generate_acquisition

PIXEL_UM = 0.32
DIAMETER_UM = 10.0


@pytest.fixture(scope="module")
def lamin_mosaic():
    """A phantom Lamin A/C mosaic of 2 x 2 tiles of 512 px (about 970 px square) and its true nuclei."""
    config = PhantomConfig.model_validate({"acquisition": {
        "rows": 2, "cols": 2, "tile_size_px": 512, "max_shift_px": 0, "max_rotation_deg": 0,
        "max_scale_deviation": 0}})
    acquisition = generate_acquisition(config, condition="control", seed=11)
    mosaic = np.zeros(acquisition.mosaic_shape, np.float32)
    for tile, (y, x) in zip(acquisition.fluorescence_tiles["lamin_a_c"], acquisition.true_positions, strict=True):
        mosaic[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return mosaic, acquisition.nuclei_labels


def whole_image_labels(image, threshold="otsu"):
    raw = label_nuclei_classical(image, pixel_size_um=PIXEL_UM, nucleus_diameter_um=DIAMETER_UM, threshold=threshold)
    return clean_labels(raw, min_area_px=150)


def blockwise_labels(image, block_px, halo_px=None, out=None):
    threshold = classical_threshold(image, sigma_px=DIAMETER_UM / PIXEL_UM / 20.0, block_px=block_px)
    out = np.zeros(image.shape, np.uint32) if out is None else out
    result = label_blockwise(image, lambda window: whole_image_labels(window, threshold), out, block_px=block_px,
                             halo_px=halo_for(DIAMETER_UM / PIXEL_UM) if halo_px is None else halo_px)
    return np.asarray(out[:]), result


def test_windows_partition_the_field_into_cores_with_clipped_halos():
    windows = list(block_windows((700, 500), 256, 40))
    cover = np.zeros((700, 500), int)
    for window in windows:
        y0, y1, x0, x1 = window.core
        cover[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = window.window
        assert (wy0, wx0) == (max(y0 - 40, 0), max(x0 - 40, 0))
        assert (wy1, wx1) == (min(y1 + 40, 700), min(x1 + 40, 500))
    assert len(windows) == 3 * 2 and np.all(cover == 1)
    with pytest.raises(ConfigError, match="block_px"):
        list(block_windows((10, 10), 0, 1))


def test_threshold_by_blocks_is_otsu_of_the_whole_smoothed_field(lamin_mosaic):
    image = lamin_mosaic[0]
    sigma = DIAMETER_UM / PIXEL_UM / 20.0
    whole = float(threshold_otsu(cv2.GaussianBlur(image, (0, 0), sigma)))
    assert classical_threshold(image, sigma_px=sigma, block_px=4096) == whole
    assert classical_threshold(image, sigma_px=sigma, block_px=300) == pytest.approx(whole, rel=1e-6)
    assert classical_threshold(image, sigma_px=0, block_px=300) == pytest.approx(threshold_otsu(image), rel=1e-6)


def test_one_block_gives_the_whole_image_labels(lamin_mosaic):
    image = lamin_mosaic[0]
    labels, result = blockwise_labels(image, block_px=4096)
    np.testing.assert_array_equal(labels, whole_image_labels(image))
    assert result.blocks == 1 and result.nuclei == labels.max() and result.cut_by_halo == 0


@pytest.mark.parametrize("block_px", [256, 400])
def test_blocks_find_the_same_nuclei_as_the_whole_image(lamin_mosaic, block_px):
    image, truth = lamin_mosaic
    whole = whole_image_labels(image)
    labels, result = blockwise_labels(image, block_px=block_px)
    assert result.blocks > 4
    assert np.array_equal(np.unique(labels), np.arange(result.nuclei + 1))  # ids 1..n, each used
    agreement = label_quality(labels, whole)
    assert agreement["n_pred"] == agreement["n_true"] == agreement["n_matched"]
    assert agreement["mean_matched_iou"] > 0.99 and agreement["dice"] > 0.999
    # and as good against the truth as the whole-image labels
    assert label_quality(labels, truth)["ap"] == pytest.approx(label_quality(whole, truth)["ap"], abs=0.01)


def test_a_halo_smaller_than_the_nuclei_is_counted_and_worse(lamin_mosaic):
    image = lamin_mosaic[0]
    whole = whole_image_labels(image)
    labels, result = blockwise_labels(image, block_px=256, halo_px=4)
    assert result.cut_by_halo > 0
    assert label_quality(labels, whole)["mean_matched_iou"] < 0.99


def test_each_disc_is_kept_once_whatever_the_blocks_cut():
    rng = np.random.default_rng(0)
    image = np.zeros((600, 650), np.float32)
    for _ in range(60):
        cy, cx, r = rng.uniform(0, 600), rng.uniform(0, 650), rng.uniform(6, 14)
        yy, xx = np.ogrid[:600, :650]
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = 1.0
    reference = ndi.label(image > 0.5)[0]
    out = zarr.create_array(store={}, shape=image.shape, dtype=np.uint32, chunks=(128, 128), fill_value=0)
    result = label_blockwise(image, lambda window: ndi.label(window > 0.5)[0], out, block_px=97, halo_px=60)
    labels = out[:]
    assert result.nuclei == reference.max() and result.cut_by_halo == 0
    # the same regions, numbered differently
    pairs = np.unique(np.stack([labels.ravel(), reference.ravel()]), axis=1)
    assert pairs.shape[1] == reference.max() + 1 and np.array_equal(labels > 0, reference > 0)


def test_constant_windows_are_skipped_and_bad_labelers_refused():
    image = np.zeros((300, 300), np.float32)
    image[200:220, 200:220] = 1.0
    calls = []

    def labeler(window):
        calls.append(window.shape)
        return ndi.label(window > 0.5)[0]

    out = np.zeros(image.shape, np.uint32)
    result = label_blockwise(image, labeler, out, block_px=100, halo_px=30)
    assert result.nuclei == 1 and result.blocks == 9 and len(calls) == 4  # only the windows reaching the square
    with pytest.raises(ConfigError, match="out: shape"):
        label_blockwise(image, labeler, np.zeros((3, 3), np.uint32), block_px=100, halo_px=30)
    with pytest.raises(ConfigError, match="label_window: returned float64"):
        label_blockwise(image, lambda window: window.astype(np.float64), np.zeros(image.shape, np.uint32),
                        block_px=100, halo_px=30)


def test_sampled_percentiles_are_exact_up_to_the_sample_size_and_close_beyond():
    rng = np.random.default_rng(1)
    image = rng.gamma(2.0, 100.0, size=(900, 1100)).astype(np.float32)
    exact = np.percentile(image, (1.0, 99.0))
    assert sampled_percentiles(image, (1.0, 99.0), block_px=256) == pytest.approx(tuple(exact), rel=1e-6)
    sparse = sampled_percentiles(image, (1.0, 99.0), block_px=256, max_pixels=40_000)
    assert sparse == pytest.approx(tuple(exact), rel=0.03)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quality_by_blocks_equals_quality_of_the_whole_images(seed):
    rng = np.random.default_rng(seed)
    truth = np.zeros((300, 340), np.uint32)
    pred = np.zeros_like(truth)
    for k in range(40):
        cy, cx, r = rng.uniform(0, 300), rng.uniform(0, 340), rng.uniform(5, 25)
        yy, xx = np.ogrid[:300, :340]
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = 1000 + 7 * k  # sparse ids
        shift = rng.normal(0, r / 3, size=2)
        if rng.uniform() < 0.85:
            pred[(yy - cy - shift[0]) ** 2 + (xx - cx - shift[1]) ** 2 <= (r * rng.uniform(0.8, 1.2)) ** 2] = k + 1
    whole = label_quality(pred, truth)
    for block in (37, 64, 1000):
        assert label_quality_blocks(pred, truth, block_px=block) == pytest.approx(whole, rel=1e-12)
    stored = zarr.create_array(store={}, shape=truth.shape, dtype=np.uint32, chunks=(64, 64))
    stored[:] = truth
    assert label_quality_blocks(pred, stored, block_px=50) == pytest.approx(whole, rel=1e-12)


def test_quality_by_blocks_refuses_bad_images():
    with pytest.raises(InputDataError, match="expected equal 2-D shapes"):
        label_quality_blocks(np.zeros((4, 4), np.uint32), np.zeros((4, 5), np.uint32))
    with pytest.raises(InputDataError, match="dtype float32"):
        label_quality_blocks(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint32))
    assert label_quality_blocks(np.zeros((4, 4), np.uint32), np.zeros((4, 4), np.uint32))["ap"] == 1.0


@pytest.mark.parametrize("block_px", [64, 4096])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_marker_is_refused_naming_the_window(block_px, bad):
    image = np.random.default_rng(0).normal(size=(200, 150)).astype(np.float32)
    image[130, 70] = bad
    for refuse in (lambda: classical_threshold(image, sigma_px=1.0, block_px=block_px),
                   lambda: sampled_percentiles(image, (1.0, 99.0), block_px=block_px)):
        with pytest.raises(InputDataError, match=r"^marker image: found 1 NaN/Inf pixels in rows \d+:\d+, columns "
                                                 r"\d+:\d+, expected finite intensities$") as refused:
            refuse()
        y0, y1, x0, x1 = (int(v) for v in re.findall(r"\d+", str(refused.value))[1:])
        assert y0 <= 130 < y1 and x0 <= 70 < x1
        assert (y1 - y0, x1 - x0) != image.shape or block_px == 4096

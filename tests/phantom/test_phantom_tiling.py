import cv2
import numpy as np
import pytest
from scipy import ndimage

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import generate_acquisition
from stainworth.phantom.acquisition import draw_misregistration, jittered_positions, tile_grid

TILE = 256


@pytest.fixture(scope="module")
def acquisition():
    config = PhantomConfig.model_validate({
        "cells": {"density_per_mm2": 2000.0, "mitotic_fraction": 0.0},
        "acquisition": {"rows": 3, "cols": 3, "tile_size_px": TILE, "overlap": 0.25,
                        "stage_jitter_px": 3.0, "max_shift_px": 8.0},
    })
    return config, generate_acquisition(config, condition="control", seed=21)


def test_grid_is_row_major_and_true_positions_stay_within_the_jitter_clip(acquisition):
    config, acq = acquisition
    step = config.acquisition.step_px
    assert acq.tile_index == [(r, c) for r in range(3) for c in range(3)]
    assert acq.nominal_positions.tolist() == [[r * step, c * step] for r in range(3)
                                              for c in range(3)]
    deviation = np.abs(acq.true_positions - acq.nominal_positions)
    assert deviation.max() <= config.acquisition.jitter_clip_px
    assert deviation.max() > 0
    assert acq.true_positions.min() >= 0
    assert np.all(acq.true_positions + TILE <= np.array(acq.mosaic_shape))


def test_jitter_is_clipped_at_three_sigma():
    config = PhantomConfig.model_validate({
        "acquisition": {"rows": 30, "cols": 30, "tile_size_px": 256, "overlap": 0.3,
                        "stage_jitter_px": 4.0}}).acquisition
    _, nominal = tile_grid(config)
    true = jittered_positions(np.random.default_rng(0), nominal, config)
    inner = (nominal > 0).all(axis=1) & (nominal + 256 < np.array(config.mosaic_shape)).all(axis=1)
    jitter = (true - nominal)[inner]
    assert np.abs(jitter).max() == 12
    assert 3.5 < jitter.std() < 4.5


CENTRE, RIGHT = 4, 5  # tiles (1, 1) and (1, 2)
SEARCH = 6


def overlap_correlation(acq, a, b, channel, *, shift=(0, 0), positions=None):
    """Correlation of tiles a and b over their overlap, with b read ``shift`` px off."""
    tiles = acq.qpi_tiles if channel == "qpi" else acq.fluorescence_tiles[channel]
    pos = acq.true_positions if positions is None else positions
    (ya, xa), (yb, xb) = pos[a], pos[b]
    y0, y1 = max(ya, yb) + SEARCH, min(ya, yb) + TILE - SEARCH
    x0, x1 = max(xa, xb) + SEARCH, min(xa, xb) + TILE - SEARCH
    sy, sx = shift
    region_a = tiles[a][y0 - ya:y1 - ya, x0 - xa:x1 - xa].astype(np.float64)
    region_b = tiles[b][y0 - yb + sy:y1 - yb + sy, x0 - xb + sx:x1 - xb + sx].astype(np.float64)
    return float(np.corrcoef(region_a.ravel(), region_b.ravel())[0, 1])


@pytest.mark.parametrize("channel", ["lamin_a_c", "h3k27me3", "qpi"])
def test_adjacent_tiles_agree_at_true_positions_only(acquisition, channel):
    _, acq = acquisition
    offsets = [(dy, dx) for dy in range(-SEARCH, SEARCH + 1) for dx in range(-SEARCH, SEARCH + 1)]
    scores = [overlap_correlation(acq, CENTRE, RIGHT, channel, shift=o) for o in offsets]
    assert offsets[int(np.argmax(scores))] == (0, 0)
    assert max(scores) > (0.8 if channel == "qpi" else 0.95)
    true_step = acq.true_positions[RIGHT] - acq.true_positions[CENTRE]
    nominal_step = acq.nominal_positions[RIGHT] - acq.nominal_positions[CENTRE]
    assert np.any(true_step != nominal_step)  # the stage really jittered this pair
    nominal = overlap_correlation(acq, CENTRE, RIGHT, channel, positions=acq.nominal_positions)
    assert nominal < max(scores) - 0.05


def fluorescence_mosaic(acq, channel):
    total = np.zeros(acq.mosaic_shape)
    count = np.zeros(acq.mosaic_shape)
    for tile, (y, x) in zip(acq.fluorescence_tiles[channel], acq.true_positions, strict=True):
        total[y:y + TILE, x:x + TILE] += tile
        count[y:y + TILE, x:x + TILE] += 1
    mosaic = total / np.maximum(count, 1)
    mosaic[count == 0] = np.median(mosaic[count > 0])  # strips no jittered tile reached
    return mosaic.astype(np.float32)


def nucleus_centroids(mask):
    labels, n = ndimage.label(mask)
    objects = ndimage.find_objects(labels)
    keep = [i + 1 for i, (ys, xs) in enumerate(objects)
            if ys.start > 2 and xs.start > 2 and ys.stop < mask.shape[0] - 2
            and xs.stop < mask.shape[1] - 2]
    return np.array(ndimage.center_of_mass(mask, labels, keep))  # (k, 2) y, x


def test_fluorescence_nuclei_map_onto_qpi_nuclei_through_the_affine(acquisition):
    config, acq = acquisition
    lamin = ndimage.gaussian_filter(fluorescence_mosaic(acq, "lamin_a_c"), 1.0)
    background = np.median(lamin)
    mask = ndimage.binary_fill_holes(lamin > background + 0.25 * (np.percentile(lamin, 99.5)
                                                                   - background))
    found = nucleus_centroids(ndimage.binary_opening(mask, iterations=2))
    xy1 = np.column_stack([found[:, 1], found[:, 0], np.ones(len(found))])
    mapped = xy1 @ acq.fluorescence_to_qpi.T  # (k, 2) x, y in the QPI frame
    truth = np.array([c.centroid_yx[::-1] for c in acq.cells if not c.touches_border])
    error = np.min(np.hypot(*(mapped[:, None, :] - truth[None, :, :]).transpose(2, 0, 1)), axis=1)
    unmapped = np.min(np.hypot(*(found[:, None, ::-1] - truth[None]).transpose(2, 0, 1)), axis=1)
    assert len(found) >= 15
    assert np.median(unmapped) > 2.0  # the misregistration is real
    assert np.median(error) < 0.3
    assert np.percentile(error, 90) < 0.6


def test_warping_fluorescence_back_with_the_affine_aligns_it_to_the_labels(acquisition):
    _, acq = acquisition
    h3 = fluorescence_mosaic(acq, "h3k27me3")
    height, width = acq.mosaic_shape
    nuclei = (acq.nuclei_labels > 0).astype(np.float64).ravel()

    def agreement(affine):
        back = cv2.warpAffine(h3, affine, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        return np.corrcoef(back.ravel(), nuclei)[0, 1]

    aligned = agreement(acq.fluorescence_to_qpi)
    assert aligned > 0.85
    assert aligned > agreement(np.eye(2, 3)) + 0.02
    for dx, dy in [(2, 0), (-2, 0), (0, 2), (0, -2)]:
        perturbed = acq.fluorescence_to_qpi + np.array([[0, 0, dx], [0, 0, dy]])
        assert agreement(perturbed) < aligned


def test_misregistration_stays_within_its_bounds():
    config = PhantomConfig().acquisition
    height, width = config.mosaic_shape
    for seed in range(20):
        affine = draw_misregistration(np.random.default_rng(seed), config)
        linear = affine[:, :2]
        scale = np.sqrt(abs(np.linalg.det(linear)))
        angle = np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))
        assert abs(scale - 1) <= config.max_scale_deviation + 1e-12
        assert abs(angle) <= config.max_rotation_deg + 1e-9
        centre = np.array([(width - 1) / 2, (height - 1) / 2, 1.0])
        assert np.all(np.abs(affine @ centre - centre[:2]) <= config.max_shift_px + 1e-9)

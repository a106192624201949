"""Block-wise assembly: fidelity to the phantom scene, no seams, block independence, memory, errors."""

import tracemalloc

import numpy as np
import pytest

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import InputDataError
from stainworth.mosaic import assemble_mosaic, create_array, estimate_tile_positions, feather_weights

TILE = 256


@pytest.fixture(scope="module")
def acquisition():
    from stainworth.phantom import generate_acquisition

    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": TILE, "overlap": 0.15,
                                        "stage_jitter_px": 3.0})
    return generate_acquisition(config, condition="control", seed=0)


@pytest.fixture(scope="module")
def stitched(acquisition):
    return estimate_tile_positions(lambda k: acquisition.qpi_tiles[k], acquisition.nominal_positions,
                                   acquisition.tile_index, (TILE, TILE))


def covered(shape, corners):
    mask = np.zeros(shape, bool)
    for y, x in corners:
        mask[y:y + TILE, x:x + TILE] = True
    return mask


def shifted(truth, offset, shape):
    """``out[p] = truth[p + offset]`` where defined, else 0."""
    out = np.zeros(shape, truth.dtype)
    (oy, ox), (height, width) = offset, truth.shape
    y0, y1, x0, x1 = max(0, -oy), min(shape[0], height - oy), max(0, -ox), min(shape[1], width - ox)
    out[y0:y1, x0:x1] = truth[y0 + oy:y1 + oy, x0 + ox:x1 + ox]
    return out


def seam_ratio(mosaic, corners):
    """Mean |step| between neighbouring pixels across the tile edges over the mean |step| 3-5 px inside.

    A seam is a discontinuity at a tile edge; comparing with parallel lines just inside the same
    tile controls for the content and for the gentle ramp that blending two backgrounds makes.
    """
    mask = covered(mosaic.shape, corners)
    step_x, step_y = np.abs(np.diff(mosaic, axis=1)), np.abs(np.diff(mosaic, axis=0))
    step_x[~(mask[:, 1:] & mask[:, :-1])] = np.nan
    step_y[~(mask[1:] & mask[:-1])] = np.nan
    at_edges, inside = [], []
    for y, x in corners:
        for edge, inward in ((x, 1), (x + TILE, -1)):
            if 5 < edge < mosaic.shape[1] - 5:
                at_edges.append(step_x[y:y + TILE, edge - 1])
                inside += [step_x[y:y + TILE, edge - 1 + inward * k] for k in (3, 4, 5)]
        for edge, inward in ((y, 1), (y + TILE, -1)):
            if 5 < edge < mosaic.shape[0] - 5:
                at_edges.append(step_y[edge - 1, x:x + TILE])
                inside += [step_y[edge - 1 + inward * k, x:x + TILE] for k in (3, 4, 5)]
    return np.nanmean(np.concatenate(at_edges)) / np.nanmean(np.concatenate(inside))


def test_mosaic_matches_the_scene_without_seams(acquisition, stitched):
    mosaic = np.zeros(stitched.mosaic_shape, np.float32)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], stitched.positions, mosaic)
    corners = np.rint(stitched.positions).astype(int)
    offset = acquisition.true_positions - corners
    assert np.all(offset == offset[0])
    truth = shifted(acquisition.qpi_clean, offset[0], mosaic.shape)
    mask = covered(mosaic.shape, corners)
    assert np.corrcoef(mosaic[mask], truth[mask])[0, 1] > 0.85
    assert seam_ratio(mosaic, corners) < 1.3
    flat = np.zeros_like(mosaic)  # plain averaging (no feathering) leaves visible seams: the measure sees them
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], stitched.positions, flat, ramp_px=1)
    assert seam_ratio(flat, corners) > 2.0 * seam_ratio(mosaic, corners)


def test_block_size_does_not_change_the_result(acquisition, stitched, tmp_path):
    small = create_array(tmp_path / "small.zarr", stitched.mosaic_shape, chunk=256)
    large = create_array(tmp_path / "large.zarr", stitched.mosaic_shape, chunk=1024)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], stitched.positions, small, block=256, cache_tiles=2)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], stitched.positions, large, block=1024)
    np.testing.assert_array_equal(small[:], large[:])


def test_multichannel_tiles_use_the_same_positions(acquisition, stitched, tmp_path):
    channels = ["lamin_a_c", "h3k27me3"]
    out = create_array(tmp_path / "fl.zarr", (2, *stitched.mosaic_shape), dtype="uint16")
    assemble_mosaic(lambda k: np.stack([acquisition.fluorescence_tiles[c][k] for c in channels]),
                    stitched.positions, out, block=300)
    for index, channel in enumerate(channels):
        single = np.zeros(stitched.mosaic_shape, np.float32)
        assemble_mosaic(lambda k, c=channel: acquisition.fluorescence_tiles[c][k], stitched.positions, single)
        np.testing.assert_array_equal(out[index], np.clip(np.rint(single), 0, 65535).astype(np.uint16))
    nearest = np.zeros((2, *stitched.mosaic_shape), np.float32)
    assemble_mosaic(lambda k: np.stack([acquisition.fluorescence_tiles[c][k] for c in channels]),
                    stitched.positions, nearest, blend="nearest")
    corner = np.rint(stitched.positions[4]).astype(int) + TILE // 2  # centre of tile 4: its own pixels
    assert nearest[1, corner[0], corner[1]] == acquisition.fluorescence_tiles["h3k27me3"][4][TILE // 2, TILE // 2]


def test_uncovered_pixels_get_the_fill_value():
    tile = np.ones((32, 32), np.float32)
    out = np.zeros((40, 70), np.float32)
    assemble_mosaic(lambda k: tile, np.array([[0, 0], [8, 38]]), out, fill=-1.0, block=16)
    assert out[0, 0] == 1.0 and out[39, 0] == -1.0 and out[0, 69] == -1.0 and out[20, 50] == 1.0


def test_memory_does_not_grow_with_mosaic_area(tmp_path):
    def peak(rows):
        def load(k):
            return np.random.default_rng(k).random((128, 128), dtype=np.float32)

        positions = np.array([(r * 112, c * 112) for r in range(rows) for c in range(rows)], float)
        size = (rows - 1) * 112 + 128
        out = create_array(tmp_path / f"m{rows}.zarr", (size, size), chunk=128)
        tracemalloc.start()
        assemble_mosaic(load, positions, out, block=128, cache_tiles=4)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    small, large = peak(3), peak(9)  # 9x the area
    assert large < 1.5 * small + 1_000_000


def test_feather_weights_rise_linearly_from_the_edges():
    weights = feather_weights((5, 8))
    assert weights[0, 0] == 1 and weights[2, 3] == 3 * 4 and weights.min() > 0
    np.testing.assert_array_equal(weights, weights[::-1, ::-1])
    assert feather_weights((64, 64), ramp_px=4).max() == 16


def test_bad_tiles_and_positions_are_named():
    good = np.ones((16, 16), np.float32)
    bad = good.copy()
    bad[3, 3] = np.inf
    out = np.zeros((16, 30), np.float32)
    with pytest.raises(InputDataError, match=r"^assemble: tile 1 has 1 NaN/Inf pixels"):
        assemble_mosaic(lambda k: [good, bad][k], np.array([[0, 0], [0, 14]]), out)
    with pytest.raises(InputDataError, match=r"tile 1 has shape \(2, 16, 16\)"):
        assemble_mosaic(lambda k: [good, np.ones((2, 16, 16))][k], np.array([[0, 0], [0, 14]]), out)
    with pytest.raises(InputDataError, match="expected inside the output 16x30"):
        assemble_mosaic(lambda k: good, np.array([[0, 0], [0, 20]]), out)
    with pytest.raises(InputDataError, match="blend 'max'"):
        assemble_mosaic(lambda k: good, np.array([[0, 0]]), out, blend="max")

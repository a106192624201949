"""Tile positions against the phantom's true stage positions; the global solve; bad input."""

import numpy as np
import pytest

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import InputDataError
from stainworth.mosaic import estimate_tile_positions
from stainworth.mosaic.pairs import PairMeasure
from stainworth.mosaic.solve import frame_positions, solve_positions

TILE = 256


@pytest.fixture(scope="module")
def acquisition():
    from stainworth.phantom import generate_acquisition

    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": TILE, "overlap": 0.15,
                                        "stage_jitter_px": 3.0})
    return generate_acquisition(config, condition="control", seed=0)


def stitch(acquisition, tiles, **options):
    return estimate_tile_positions(lambda k: tiles[k], acquisition.nominal_positions, acquisition.tile_index,
                                   (TILE, TILE), **options)


def position_error(positions, truth):
    """Largest per-axis error after removing the free global offset of the mosaic frame."""
    difference = np.asarray(positions, float) - truth
    return float(np.abs(difference - difference.mean(axis=0)).max())


def chained(result, grid, nominal):
    """Positions by chaining pairs: along row 0 left to right, then down every column."""
    offsets = {(row["i"], row["j"]): np.array([row["dy"], row["dx"]]) for row in result.pair_table}
    index = {cell: k for k, cell in enumerate(grid)}
    positions = np.zeros((len(grid), 2))
    for (row, col), k in sorted(index.items()):
        parent = index[(row, col - 1)] if row == 0 and col > 0 else index.get((row - 1, col))
        if parent is not None:
            offset = offsets[(parent, k)]
            if not np.all(np.isfinite(offset)):
                offset = nominal[k] - nominal[parent]
            positions[k] = positions[parent] + offset
    return positions


def test_positions_within_one_pixel_of_truth(acquisition):
    result = stitch(acquisition, acquisition.qpi_tiles)
    assert position_error(result.positions, acquisition.true_positions) < 1.0
    rounded = np.rint(result.positions) - acquisition.true_positions
    assert np.all(rounded == rounded[0])  # consistent after rounding: the assembled mosaic is exact
    assert np.rint(result.positions).min(axis=0).tolist() == [0, 0]
    assert result.mosaic_shape == acquisition.mosaic_shape
    assert len(result.pair_table) == 12 and all(row["used"] for row in result.pair_table)
    assert result.rms_residual_px < 0.5
    assert set(result.pair_table[0]) >= {"i", "j", "dy", "dx", "quality", "used", "residual"}


def test_channel_of_multichannel_tiles(acquisition):
    stacks = [np.stack([acquisition.fluorescence_tiles["lamin_a_c"][k], acquisition.qpi_tiles[k]])
              for k in range(len(acquisition.qpi_tiles))]
    result = stitch(acquisition, stacks, channel=1, upsample=1)
    assert position_error(result.positions, acquisition.true_positions) < 1.0


def test_noisy_overlap_is_rejected_and_global_solve_beats_chaining(acquisition):
    tiles = [tile.copy() for tile in acquisition.qpi_tiles]
    noise = np.random.default_rng(3).normal(0, tiles[0].std(), (TILE, 48)).astype(np.float32)
    tiles[1][:, :48] = noise  # tile 1's overlap with tile 0 is pure noise
    result = stitch(acquisition, tiles)
    pair = next(row for row in result.pair_table if (row["i"], row["j"]) == (0, 1))
    assert not pair["used"] and pair["quality"] < 0.3
    solved = position_error(result.positions, acquisition.true_positions)
    chaining = position_error(chained(result, acquisition.tile_index, acquisition.nominal_positions),
                              acquisition.true_positions)
    assert solved < 1.0 and solved <= chaining


def test_confident_wrong_pair_is_outvoted():
    """One pair reports a wrong offset with high quality: loops through the grid expose it."""
    grid = [(r, c) for r in range(3) for c in range(3)]
    truth = np.array([(r * 200 + 3 * c, c * 200 - 2 * r) for r, c in grid], float)
    nominal = np.array([(r * 200, c * 200) for r, c in grid], float)
    pairs = [(k, k + 1) for k in range(9) if k % 3 < 2] + [(k, k + 3) for k in range(6)]
    measures = [PairMeasure(offset=tuple(truth[j] - truth[i]), quality=0.9) for i, j in pairs]
    bad = pairs.index((0, 1))
    measures[bad] = PairMeasure(offset=tuple(truth[1] - truth[0] + (0.0, 6.0)), quality=0.95)
    solution, used, residuals = solve_positions(9, pairs, measures, [True] * len(pairs), nominal, outlier_px=2.0)
    assert not used[bad] and residuals[bad] > 5.0 and sum(used) == len(pairs) - 1
    assert position_error(solution, truth) < 1e-3
    # chaining through the bad pair carries its 6 px error to tiles 1 and 2
    assert position_error(np.cumsum([[0, 0]] + [measures[pairs.index((k, k + 1))].offset for k in (0, 1)], axis=0),
                          truth[:3]) > 3.0


def test_rejected_pair_falls_back_to_the_stage_model():
    grid = [(0, 0), (0, 1), (0, 2)]
    nominal = np.array([(0, 0), (0, 100), (0, 200)], float)
    pairs = [(0, 1), (1, 2)]
    measures = [PairMeasure(offset=(1.0, 104.0), quality=0.9), PairMeasure(offset=(float("nan"),) * 2, quality=-1)]
    solution, used, _ = solve_positions(3, pairs, measures, [True, False], nominal, outlier_px=2.0)
    assert used == [True, False]
    np.testing.assert_allclose(solution[2] - solution[1], (1.0, 104.0), atol=0.01)  # median accepted offset
    assert len(grid) == len(solution)


def test_frame_positions_round_consistently():
    solution = np.array([[10.45, 3.5], [210.55, 203.6], [0.5, 403.4]])
    positions = frame_positions(solution)
    np.testing.assert_allclose(np.diff(positions, axis=0), np.diff(solution, axis=0))
    assert np.rint(positions).min(axis=0).tolist() == [0, 0]
    assert np.abs(positions - np.rint(positions)).max() <= 0.11


def test_nan_tile_is_named(acquisition):
    tiles = [tile.copy() for tile in acquisition.qpi_tiles]
    tiles[4][10, 10] = np.nan
    with pytest.raises(InputDataError, match=r"^stitch: tile 4 has 1 NaN/Inf pixels"):
        stitch(acquisition, tiles)


def test_wrong_tile_shape_is_named(acquisition):
    tiles = list(acquisition.qpi_tiles)
    tiles[2] = tiles[2][:100]
    with pytest.raises(InputDataError, match=r"tile 2 has shape \(100, 256\)"):
        stitch(acquisition, tiles)


def test_tiles_that_overlap_nothing_are_refused():
    tile = np.zeros((64, 64), np.float32)
    grid = [(0, 0), (0, 1), (1, 0), (1, 1)]
    far_apart = np.array([(r * 80, c * 80) for r, c in grid])
    with pytest.raises(InputDataError, match=r"^stitch: tile 0 \(row 0, col 0\) overlaps no grid neighbour"):
        estimate_tile_positions(lambda k: tile, far_apart, grid, (64, 64))
    gap = [(0, 0), (0, 2)]
    with pytest.raises(InputDataError, match="tile 0"):
        estimate_tile_positions(lambda k: tile, np.array([(0, 0), (0, 100)]), gap, (64, 64))
    split = [(0, 0), (0, 1), (0, 3), (0, 4)]
    with pytest.raises(InputDataError, match=r"form 2 groups .*\(tile 2, row 0, col 3"):
        estimate_tile_positions(lambda k: tile, np.array([(0, 0), (0, 40), (0, 120), (0, 160)]), split, (64, 64))


def test_single_tile_and_bad_nominal_shape():
    tile = np.ones((64, 64), np.float32)
    result = estimate_tile_positions(lambda k: tile, np.array([[5, 7]]), [(0, 0)], (64, 64))
    assert result.positions.tolist() == [[0.0, 0.0]] and result.pair_table == []
    with pytest.raises(InputDataError, match="nominal positions of shape"):
        estimate_tile_positions(lambda k: tile, np.zeros((2, 3)), [(0, 0), (0, 1)], (64, 64))


def test_sub_pixel_positions_on_a_half_pixel_phantom():
    """Tiles rendered at half the pixel size and binned 2x2 sit at multiples of half a pixel."""
    from stainworth.phantom import generate_acquisition

    config = PhantomConfig(optics={"pixel_size_um": 0.16},
                           acquisition={"rows": 3, "cols": 3, "tile_size_px": 512, "overlap": 0.15,
                                        "stage_jitter_px": 3.0})
    fine = generate_acquisition(config, condition="control", seed=1)
    tiles = [tile.reshape(256, 2, 256, 2).mean(axis=(1, 3)) for tile in fine.qpi_tiles]
    truth = fine.true_positions / 2
    assert np.any(truth % 1 == 0.5)
    result = estimate_tile_positions(lambda k: tiles[k], fine.nominal_positions / 2, fine.tile_index, (256, 256))
    error = result.positions - truth
    error -= error.mean(axis=0)
    assert np.sqrt(np.mean(error**2)) < 0.2 and np.abs(error).max() < 0.4
    whole = estimate_tile_positions(lambda k: tiles[k], fine.nominal_positions / 2, fine.tile_index, (256, 256),
                                    upsample=1)
    assert position_error(whole.positions, truth) >= np.abs(error).max()

"""Stitching against phantom ground truth: positions, global solve, blending, streaming, errors."""

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.preprocess.stitch import assemble_mosaic, estimate_tile_positions


def test_positions_match_truth_within_a_pixel(acquisition, stitched):
    result, _, _, offset = stitched
    error = result.positions - acquisition.true_positions - offset
    assert np.abs(error).max() <= 1
    assert result.rms_residual_px < 1.0
    assert all(pair.used for pair in result.pairs)
    nominal_error = acquisition.nominal_positions - acquisition.true_positions
    assert np.abs(nominal_error).max() >= 2  # the test is not trivial: the stage jittered


def test_mosaic_matches_clean_phase_without_seams(acquisition, stitched):
    _, label_free, _, offset = stitched
    truth = acquisition.qpi_clean
    height, width = label_free.shape[0] - abs(offset[0]), label_free.shape[1] - abs(offset[1])
    mine = label_free[max(offset[0], 0):][:height, max(offset[1], 0):][:, :width]
    theirs = truth[max(-offset[0], 0):][:height, max(-offset[1], 0):][:, :width]
    assert np.corrcoef(mine.ravel(), theirs.ravel())[0, 1] > 0.85


def test_a_corrupted_overlap_is_outvoted_by_the_global_solve(acquisition):
    tiles = [tile.copy() for tile in acquisition.qpi_tiles]
    rng = np.random.default_rng(0)
    tiles[4][:, :60] = rng.normal(0, 1, (tiles[4].shape[0], 60)).astype(np.float32)
    result = estimate_tile_positions(lambda k: tiles[k], acquisition.nominal_positions, acquisition.tile_index)
    offset = np.rint((result.positions - acquisition.true_positions).mean(axis=0))
    assert np.abs(result.positions - acquisition.true_positions - offset).max() <= 1
    assert not next(p for p in result.pairs if (p.i, p.j) == (3, 4)).used


def test_block_size_does_not_change_the_mosaic(acquisition, stitched):
    result, label_free, _, _ = stitched
    other = np.zeros_like(label_free)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], result.positions, other, block=200)
    np.testing.assert_allclose(other, label_free, atol=1e-5)


def test_multichannel_mosaic(stitched):
    _, label_free, fluorescence, _ = stitched
    assert fluorescence.shape == (2, *label_free.shape)
    assert (fluorescence > 0).mean() > 0.99  # camera offset everywhere the tiles cover


def test_non_overlapping_tiles_refused(acquisition):
    spread = acquisition.nominal_positions * 2
    with pytest.raises(InputDataError, match=r"tile 0 \(row 0, col 0\) overlaps no neighbour"):
        estimate_tile_positions(lambda k: acquisition.qpi_tiles[k], spread, acquisition.tile_index)


def test_nan_tile_refused(acquisition):
    tiles = [tile.copy() for tile in acquisition.qpi_tiles]
    tiles[2][5, 5] = np.nan
    with pytest.raises(InputDataError, match=r"tile 2: contains NaN or infinite pixels"):
        estimate_tile_positions(lambda k: tiles[k], acquisition.nominal_positions, acquisition.tile_index)

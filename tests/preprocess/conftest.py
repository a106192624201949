import numpy as np
import pytest

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import generate_acquisition
from stainworth.preprocess.stitch import assemble_mosaic, estimate_tile_positions


@pytest.fixture(scope="session")
def acquisition():
    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": 384, "overlap": 0.12,
                                        "stage_jitter_px": 3.0})
    return generate_acquisition(config, condition="control", seed=0)


@pytest.fixture(scope="session")
def stitched(acquisition):
    """(result, label-free mosaic, fluorescence mosaic (2, H, W), frame offset (y, x) vs truth)."""
    result = estimate_tile_positions(lambda k: acquisition.qpi_tiles[k], acquisition.nominal_positions,
                                     acquisition.tile_index)
    label_free = np.zeros(result.mosaic_shape, np.float32)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], result.positions, label_free)
    channels = list(acquisition.fluorescence_tiles)
    fluorescence = np.zeros((len(channels), *result.mosaic_shape), np.float32)
    assemble_mosaic(lambda k: np.stack([acquisition.fluorescence_tiles[c][k] for c in channels]),
                    result.positions, fluorescence)
    offset = np.rint((result.positions - acquisition.true_positions).mean(axis=0)).astype(int)
    return result, label_free, fluorescence, offset

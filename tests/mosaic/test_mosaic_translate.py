"""Translation-only registration: a known shift, inverted (phase-contrast-like) label-free, bad input."""

import numpy as np
import pytest
from scipy import ndimage

from stainworth.errors import InputDataError
from stainworth.mosaic.translate import register_translation


def nuclei(shape=(512, 512), count=60, seed=0):
    """Bright round blobs on a dark, slightly noisy background."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, np.float32)
    ys, xs = np.ogrid[:shape[0], :shape[1]]
    for y, x in rng.uniform(20, shape[0] - 20, size=(count, 2)):
        image[(ys - y) ** 2 + (xs - x) ** 2 < 8**2] = 1.0
    return ndimage.gaussian_filter(image, 1.5) + 0.02 * rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_recovers_a_known_shift_for_either_label_free_polarity(polarity):
    moving = nuclei()
    fixed = polarity * ndimage.shift(moving, (4.0, -7.0), order=1, mode="nearest")
    result = register_translation(fixed, moving, nucleus_diameter_px=16)
    assert result.polarity == polarity
    assert result.matrix[0, 2] == pytest.approx(-7.0, abs=0.3)
    assert result.matrix[1, 2] == pytest.approx(4.0, abs=0.3)
    assert result.correlation > 0.8


def test_downsampled_search_scales_the_shift_back():
    moving = nuclei((1024, 1024), count=200, seed=1)
    fixed = ndimage.shift(moving, (10.0, 6.0), order=1, mode="nearest")
    result = register_translation(fixed, moving, max_side=512, nucleus_diameter_px=16)
    assert result.matrix[:, 2] == pytest.approx([6.0, 10.0], abs=1.0)


def test_mosaics_of_different_sizes_are_refused():
    with pytest.raises(InputDataError, match=r"fixed \(512, 512\) and moving \(500, 512\)"):
        register_translation(nuclei(), nuclei((500, 512)))


def test_nan_pixels_are_refused():
    fixed = nuclei()
    fixed[10, 10] = np.nan
    with pytest.raises(InputDataError, match="label-free .* NaN/Inf"):
        register_translation(fixed, nuclei())

"""Averaging a stainer's output over the symmetries it was trained with."""

import numpy as np
import pytest
from scipy import ndimage

from stainworth.stainers.symmetry import symmetries, symmetry_average


def blur(images):
    return ndimage.gaussian_filter(images, (0,) * (images.ndim - 2) + (1.5, 1.5), mode="reflect")


@pytest.mark.parametrize("shape, group, count", [((3, 16, 16), "dihedral", 8), ((3, 16, 24), "dihedral", 4),
                                                 ((3, 16, 24), "flips", 4), ((16, 16), "none", 1)])
def test_an_equivariant_prediction_is_unchanged(shape, group, count):
    images = np.random.default_rng(0).random(shape).astype(np.float32)
    assert len(symmetries(group, *shape[-2:])) == count
    np.testing.assert_allclose(symmetry_average(blur, images, group), blur(images), atol=1e-6)


def test_an_error_fixed_in_the_networks_frame_is_spread_over_the_corners():
    def cornered(images):
        out = images.copy()
        out[..., -1, -1] += 8.0  # the same corner of every output, whatever the input
        return out

    images = np.zeros((2, 1, 6, 6), np.float32)
    averaged = symmetry_average(cornered, images, "dihedral")
    corners = averaged[..., [0, 0, -1, -1], [0, -1, 0, -1]]
    np.testing.assert_allclose(corners, 2.0)  # each corner is the bottom-right one in two of the eight
    assert averaged.sum() == pytest.approx(2 * 8.0) and averaged.dtype == np.float32
    assert symmetry_average(cornered, images, "none")[..., -1, -1].max() == 8.0
    rectangle = symmetry_average(cornered, np.zeros((1, 4, 6), np.float32), "flips")
    np.testing.assert_allclose(rectangle[0, [0, 0, -1, -1], [0, -1, 0, -1]], 2.0)

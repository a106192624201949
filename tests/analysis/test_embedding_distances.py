"""Distances to the real fluorescence in a network's embeddings: the projection and a known shift."""

import numpy as np
import pytest

from stainworth.analysis.embedding_distances import principal_projection
from stainworth.stainers.feature_distance import feature_distances


def test_the_projection_keeps_at_most_one_component_per_ten_nuclei_and_no_empty_one():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(50, 40))
    projected, _ = principal_projection(wide, [], dimensions=32)
    assert projected.shape == (50, 5)
    flat = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 12))  # rank 2 in 12 dimensions
    projected, _ = principal_projection(flat, [], dimensions=32)
    assert projected.shape == (300, 2)


def test_a_shift_along_the_leading_component_gives_the_squared_shift_in_real_sds():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(2000, 6)) * [3.0, 1.0, 1.0, 0.5, 0.5, 0.2]
    axis = np.linalg.svd(real - real.mean(axis=0), full_matrices=False)[2][0]
    sd = float(((real - real.mean(axis=0)) @ axis).std())
    shifted = real + 0.5 * sd * axis  # half a real SD along the leading component
    projected, (moved,) = principal_projection(real, [shifted], dimensions=4)
    result = feature_distances(moved, projected, n_boot=50)
    assert result["frechet"].plug_in == pytest.approx(0.25, rel=1e-6)
    assert result["frechet"].estimate == pytest.approx(0.25, rel=0.1)  # bias-corrected by the bootstrap
    assert result["frechet"].ci_low <= 0.25 <= result["frechet"].ci_high
    same, (copy,) = principal_projection(real, [real.copy()], dimensions=4)
    assert feature_distances(copy, same, n_boot=20)["kernel"].estimate == pytest.approx(0.0, abs=1e-12)

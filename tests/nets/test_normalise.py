import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.nets.normalise import PercentileNormaliser


def test_percentiles_map_to_zero_and_one_and_invert_exactly():
    rng = np.random.default_rng(0)
    images = rng.normal(100.0, 10.0, size=(20, 16, 16)).astype(np.float32)
    normaliser = PercentileNormaliser.fit(images)
    low, high = np.percentile(images, [1.0, 99.8])
    assert normaliser.low == pytest.approx(low, rel=1e-5) and normaliser.high == pytest.approx(high, rel=1e-5)
    mapped = normaliser.apply(images)
    assert np.mean(mapped < 0) == pytest.approx(0.01, abs=0.005)
    assert np.allclose(normaliser.invert(mapped), images, atol=1e-3)


def test_constant_images_do_not_divide_by_zero():
    normaliser = PercentileNormaliser.fit(np.full((3, 8, 8), 5.0, np.float32))
    assert normaliser.scale == 1.0
    assert np.all(normaliser.apply(np.full((2, 2), 5.0)) == 0.0)


def test_round_trip_through_dict_and_from_dataset_statistics():
    normaliser = PercentileNormaliser(low=1.5, high=9.0)
    assert PercentileNormaliser.from_dict(normaliser.to_dict()) == normaliser
    stats = {"fluorescence": {"all": {"p1": 0.2, "p99_8": 3.0}}}
    assert PercentileNormaliser.from_statistics(stats, "fluorescence") == PercentileNormaliser(0.2, 3.0)
    with pytest.raises(InputDataError, match="'label_free': found keys \\[\\]; expected 'p1' and 'p99_8'"):
        PercentileNormaliser.from_statistics(stats, "label_free")


def test_non_finite_or_empty_training_images_are_refused():
    images = np.zeros((2, 4, 4), np.float32)
    images[1, 2, 2] = np.inf
    with pytest.raises(InputDataError, match="NaN/Inf"):
        PercentileNormaliser.fit(images)
    with pytest.raises(InputDataError, match=r"shape \(0, 4, 4\)"):
        PercentileNormaliser.fit(np.zeros((0, 4, 4)))

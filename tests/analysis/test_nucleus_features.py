import numpy as np
import pytest

from stainworth.analysis.nucleus_features import FEATURES, feature_aucs, nucleus_features
from stainworth.errors import InputDataError

SIZE = 48


def disc(radius=15.0):
    rows, cols = np.mgrid[:SIZE, :SIZE]
    return ((rows - 23.5) ** 2 + (cols - 23.5) ** 2) < radius**2


def spot(y, x, sigma=1.2, amplitude=5.0):
    rows, cols = np.mgrid[:SIZE, :SIZE]
    return amplitude * np.exp(-((rows - y) ** 2 + (cols - x) ** 2) / (2 * sigma**2))


def test_flat_disc_has_no_texture_and_no_spots():
    mask = disc()[None]
    features = nucleus_features(np.where(mask, 3.0, 0.0), mask)
    assert features["area"][0] == mask.sum() and features["mean"][0] == pytest.approx(3.0)
    assert features["integrated"][0] == pytest.approx(3.0 * mask.sum())
    assert features["cv"][0] == pytest.approx(0.0, abs=1e-12)
    assert features["texture"][0] == pytest.approx(0.0, abs=1e-9)
    assert features["spots"][0] == 0


def test_spots_are_counted_and_raise_texture():
    mask = np.stack([disc(), disc()])
    rng = np.random.default_rng(0)
    flat = 3.0 + 0.05 * rng.normal(size=(SIZE, SIZE))
    spotted = flat + spot(18, 18) + spot(30, 27) + spot(20, 31)
    features = nucleus_features(np.where(mask, np.stack([flat, spotted]), 0.0), mask)
    assert features["spots"].tolist() == [0.0, 3.0]
    assert features["texture"][1] > 3 * features["texture"][0]


def test_auc_follows_a_feature_that_separates_the_classes():
    mask = np.stack([disc(12.0)] * 20 + [disc(16.0)] * 20)
    labels = np.repeat([0, 1], 20)
    aucs = feature_aucs(mask * 2.0, mask, labels)
    assert list(aucs) == list(FEATURES)
    assert aucs["area"].auc == 1.0 and aucs["integrated"].auc == 1.0
    assert aucs["mean"].auc == 0.5  # same intensity: all ties


@pytest.mark.parametrize(("images", "masks", "pattern"), [
    (np.zeros((2, 8, 8)), np.ones((2, 8, 9)), r"expected the same \(n, S, S\) shape"),
    (np.zeros((2, 8, 8)), np.stack([np.ones((8, 8)), np.zeros((8, 8))]), r"masks \[1\]: empty"),
    (np.full((1, 8, 8), np.nan), np.ones((1, 8, 8)), r"NaN/Inf inside a nucleus"),
])
def test_bad_input_is_refused(images, masks, pattern):
    with pytest.raises(InputDataError, match=pattern):
        nucleus_features(images, masks)

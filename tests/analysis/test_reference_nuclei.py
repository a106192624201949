import numpy as np
import pytest
from scipy import ndimage

from stainworth.analysis.nucleus_features import feature_aucs
from stainworth.analysis.reference_nuclei import collect_nuclei, register_by_truth, split_counts
from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError
from stainworth.phantom import generate_acquisition

SMALL = {"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 512, "overlap": 0.1}}


def small(**sections):
    return PhantomConfig(**SMALL, **sections)


@pytest.fixture(scope="module")
def registered():
    return register_by_truth(generate_acquisition(small(), condition="treated", seed=5), source="f")


@pytest.fixture(scope="module")
def same_class():
    """Treated drawn from the control distribution (strength 0)."""
    return collect_nuclei(small(treatment={"strength": 0.0}), nuclei_per_class=200, seed=1)


@pytest.fixture(scope="module")
def default_nuclei():
    return collect_nuclei(small(), nuclei_per_class=200, seed=1)


def test_registered_fluorescence_lines_up_with_the_true_nuclei(registered):
    box = registered.valid_box()
    assert np.isfinite(registered.fluorescence[(slice(None), *box)]).all()
    assert box[0].start < 40  # the misregistration leaves only a thin uncovered margin
    inside = registered.labels[box] > 0
    lamin, marker = registered.channel("lamin_a_c")[box], registered.channel("h3k27me3")[box]
    assert np.median(marker[inside]) > 2 * np.median(marker[~inside])

    def rim_contrast(shift):
        depth = ndimage.distance_transform_edt(np.roll(inside, shift, axis=(0, 1)))
        return np.median(lamin[(depth >= 1) & (depth <= 3)]) / np.median(lamin[depth >= 8])

    aligned = rim_contrast((0, 0))
    assert aligned > 1.1
    assert all(aligned > rim_contrast(shift) + 0.05 for shift in ((2, 0), (-2, 0), (0, 2), (0, -2)))


def test_split_counts_are_even_and_refuse_too_few():
    assert split_counts(150) == {"train": 150, "val": 60, "test": 90}
    with pytest.raises(ConfigError, match=r"nuclei per class: found 5; expected an integer >= 40"):
        split_counts(5)


def test_collect_draws_the_asked_nuclei_per_class_and_split(default_nuclei):
    crops = default_nuclei
    assert crops.label_free.shape == crops.fluorescence.shape == crops.mask.shape == (400, 48, 48)
    for split, count in split_counts(200).items():
        chosen = crops.where(split)
        assert chosen.size == count and np.count_nonzero(crops.label[chosen] == 1) == count // 2
    assert np.isfinite(crops.fluorescence).all() and np.isfinite(crops.label_free).all()
    assert np.all(crops.label_free[crops.mask == 0] == 0)
    centre = np.argwhere(crops.mask[0]).mean(axis=0)
    assert np.allclose(centre, 23.5, atol=1.0)


def test_collect_is_deterministic(default_nuclei):
    again = collect_nuclei(small(), nuclei_per_class=200, seed=1)
    assert np.array_equal(again.fluorescence, default_nuclei.fluorescence)
    assert again.table["label_id"].tolist() == default_nuclei.table["label_id"].tolist()


def test_features_do_not_separate_classes_drawn_from_one_distribution(same_class):
    for images in (same_class.label_free, same_class.fluorescence):
        for name, auc in feature_aucs(images, same_class.mask, same_class.label).items():
            assert abs(auc.auc - 0.5) < 0.1, name


def test_treated_nuclei_are_larger_by_default(default_nuclei):
    area = feature_aucs(default_nuclei.label_free, default_nuclei.mask, default_nuclei.label)["area"]
    assert area.ci_low > 0.5

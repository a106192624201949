"""Paired comparisons of each modality with label-free on the same test images."""

import dataclasses

import numpy as np
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation import paired_comparisons


def copy_as(unit, modality):
    """The same scores under another modality: a difference of exactly zero."""
    return dataclasses.replace(unit, modality=modality, scores=unit.scores.copy(), run=f"copy-{modality}")


def test_classification_delong(make_classification):
    label_free = make_classification("cnn3", "label_free", 0.6, seed=1)
    stained = make_classification("cnn3", "virtual_effunet", 0.95, seed=2)
    stained = dataclasses.replace(stained, scores=stained.scores.sample(frac=1.0, random_state=3))  # any item order
    units = [copy_as(label_free, "fluorescence"), stained, label_free]
    table = paired_comparisons(units)
    assert list(table["modality"]) == ["virtual_effunet", "fluorescence"]
    big, zero = table.iloc[0], table.iloc[1]
    assert big["test"] == "DeLong" and big["metric"] == "auc" and big["n"] == 300
    assert big["difference"] == pytest.approx(big["value"] - big["reference_value"])
    assert big["difference"] > 0.2 and big["ci_low"] > 0 and big["p_value"] < 1e-6 and big["se"] > 0
    assert zero["difference"] == 0 and zero["p_value"] == 1.0
    assert big["run"] == "cls-cnn3-virtual_effunet-all-s0" and big["reference_run"] == "cls-cnn3-label_free-all-s0"


def test_segmentation_bootstrap(make_segmentation):
    units = [make_segmentation("unet1", "label_free", 0.6, seed=1),
             make_segmentation("unet1", "virtual_pix2pixhd", 0.7, seed=2),
             make_segmentation("unet1", "fluorescence", 0.6, seed=3)]
    table = paired_comparisons(units, metrics=("dice", "recall"), n_boot=1000)
    assert list(zip(table["modality"], table["metric"], strict=True)) == [
        ("virtual_pix2pixhd", "dice"), ("virtual_pix2pixhd", "recall"), ("fluorescence", "dice"),
        ("fluorescence", "recall")]
    big, null = table.iloc[0], table.iloc[2]
    assert big["test"] == "paired bootstrap (bca)" and np.isnan(big["se"])
    assert big["difference"] == pytest.approx(0.1, abs=0.02) and big["ci_low"] > 0.05 and big["p_value"] < 0.001
    assert abs(null["difference"]) < 0.02 and null["ci_low"] < 0 < null["ci_high"] and null["p_value"] > 0.05
    assert list(table["n"]) == [120, 108, 120, 108]  # recall is NaN on 12 images without nuclei
    assert table.equals(paired_comparisons(units, metrics=("dice", "recall"), n_boot=1000))


def test_rows_per_unit_pair_and_order(make_segmentation):
    units = []
    for train_size, subsets in ((300, 2), (None, 1), (100, 2)):
        for subset in range(subsets):
            for modality in ("virtual_effunet", "label_free", "fluorescence"):
                units.append(make_segmentation("unet2", modality, 0.7, train_size=train_size, subset=subset,
                                               seed=subset))
    units.append(make_segmentation("unet2", "fluorescence", 0.7, train_size=5000))  # no reference: skipped
    table = paired_comparisons(units, n_boot=200)
    assert len(table) == 10 and str(table["train_size"].dtype) == "Int64"
    assert table["train_size"].isna().sum() == 2 and table["train_size"].isna().iloc[:2].all()
    assert list(table["train_size"].iloc[2:].astype(int)) == [100] * 4 + [300] * 4
    assert list(table["subset"].iloc[2:6]) == [0, 0, 1, 1]
    assert list(table["modality"].iloc[:2]) == ["virtual_effunet", "fluorescence"]


def test_unknown_reference(make_segmentation):
    with pytest.raises(ConfigError, match=r"reference: found 'phase'; expected one of label_free"):
        paired_comparisons([make_segmentation("unet1", "label_free", 0.7)], reference="phase")


def test_absent_reference(make_segmentation):
    with pytest.raises(InputDataError, match=r"reference modality virtual_effunet: found in none of the 1 units"):
        paired_comparisons([make_segmentation("unet1", "label_free", 0.7)], reference="virtual_effunet")


def test_unknown_metric(make_segmentation):
    with pytest.raises(ConfigError, match=r"metrics: found \['iou'\]; expected one or more of precision, recall, dice"):
        paired_comparisons([make_segmentation("unet1", "label_free", 0.7)], metrics=("iou",))


def test_unusable_pair_is_named(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7, n=3)
    b = make_segmentation("unet1", "fluorescence", 0.7, n=3)
    b.scores["recall"] = [np.nan, 0.5, np.nan]
    with pytest.raises(InputDataError, match=r"seg-unet1-fluorescence-all-s0 .* vs seg-unet1-label_free-all-s0 .*, "
                                             r"recall: paired bootstrap needs at least 2 images"):
        paired_comparisons([a, b], metrics=("recall",), n_boot=100)

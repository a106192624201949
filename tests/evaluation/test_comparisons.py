"""Paired comparisons of each modality with label-free on the same test images: combined and per training."""

import dataclasses

import numpy as np
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation import paired_comparisons, replicate_comparisons, unit_statistics
from stainworth.evaluation.comparisons import COLUMNS, REPLICATE_COLUMNS, paired_differences
from stainworth.metrics import combine_replicates, holm


def copy_as(unit, modality):
    """The same scores under another modality: a difference of exactly zero."""
    return dataclasses.replace(unit, modality=modality, scores=unit.scores.copy(), run=f"copy-{modality}")


def test_classification_combined_over_replicates(make_classification):
    units = []
    for r in range(3):
        label_free = make_classification("cnn3", "label_free", 0.6, seed=1 + 10 * r, replicate=r)
        stained = make_classification("cnn3", "virtual_effunet", 0.95, seed=2 + 10 * r, replicate=r)
        stained = dataclasses.replace(stained, scores=stained.scores.sample(frac=1.0, random_state=3))  # any order
        units += [copy_as(label_free, "fluorescence"), stained, label_free]
    table = paired_comparisons(units)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["modality"]) == ["virtual_effunet", "fluorescence"]
    big, zero = table.iloc[0], table.iloc[1]
    assert big["test"] == "Obuchowski-Rockette-Hillis (DeLong covariance)" and big["metric"] == "auc"
    assert (big["n"], big["replicates"], big["family"]) == (300, 3, "virtual_effunet auc capacity")
    assert big["difference"] == pytest.approx(big["value"] - big["reference_value"])
    assert big["difference"] > 0.2 and big["ci_low"] > 0 and big["p_value"] < 0.01 and big["se"] > 0
    assert big["se"] ** 2 == pytest.approx(big["training_sd"] ** 2 / 3 + big["se_test"] ** 2)
    assert zero["difference"] == 0 and zero["p_value"] == 1.0 and zero["se"] == 0
    assert big["runs"].split(";")[0] == "cls-cnn3-virtual_effunet-all-s0 vs cls-cnn3-label_free-all-s0"
    pairs = sorted((u for u in units if u.modality == "virtual_effunet"), key=lambda u: u.replicate)
    references = sorted((u for u in units if u.modality == "label_free"), key=lambda u: u.replicate)
    differences = paired_differences(pairs, references, "auc")
    expected = combine_replicates(differences.values, differences.covariance)
    assert (big["difference"], big["se"], big["df"], big["p_value"]) == pytest.approx(
        (expected.estimate, expected.se, expected.df, expected.p_value))


def test_paired_differences_are_the_contrast_of_the_unit_statistics(make_segmentation):
    a = [make_segmentation("unet1", "fluorescence", 0.7, seed=r, replicate=r) for r in range(2)]
    b = [make_segmentation("unet1", "label_free", 0.6, seed=5 + r, replicate=r) for r in range(2)]
    both = unit_statistics([*a, *b], "dice")
    result = paired_differences(a, b, "dice")
    np.testing.assert_allclose(result.values, both.values[:2] - both.values[2:])
    contrast = np.array([[1, 0, -1, 0], [0, 1, 0, -1]])
    np.testing.assert_allclose(result.covariance, contrast @ both.covariance @ contrast.T)


def test_segmentation_combined_has_a_standard_error(make_segmentation):
    units = [make_segmentation("unet1", modality, dice, seed=seed + 10 * r, replicate=r)
             for r in range(3) for modality, dice, seed in (("label_free", 0.6, 1), ("virtual_pix2pixhd", 0.7, 2),
                                                             ("fluorescence", 0.6, 3))]
    table = paired_comparisons(units, metrics=("dice", "recall"))
    assert list(zip(table["modality"], table["metric"], strict=True)) == [
        ("virtual_pix2pixhd", "dice"), ("virtual_pix2pixhd", "recall"), ("fluorescence", "dice"),
        ("fluorescence", "recall")]
    big, null = table.iloc[0], table.iloc[2]
    assert table["se"].notna().all() and (table["se"] > 0).all()
    assert big["test"] == "Obuchowski-Rockette-Hillis (per-image covariance)"
    assert big["difference"] == pytest.approx(0.1, abs=0.02) and big["ci_low"] > 0.05 and big["p_value"] < 0.001
    assert abs(null["difference"]) < 0.02 and null["ci_low"] < 0 < null["ci_high"] and null["p_value"] > 0.05
    assert list(table["n"]) == [120, 108, 120, 108]  # recall is NaN on 12 images without nuclei
    assert list(table["family"]) == ["virtual_pix2pixhd dice capacity", "virtual_pix2pixhd recall capacity",
                                     "fluorescence dice capacity", "fluorescence recall capacity"]
    assert table.equals(paired_comparisons(units, metrics=("dice", "recall")))


def test_one_training_is_test_set_only_and_says_so(make_segmentation, make_classification):
    units = [make_segmentation("unet1", "label_free", 0.6, seed=1), make_segmentation("unet1", "fluorescence", 0.7)]
    row = paired_comparisons(units).iloc[0]
    assert row["test"] == "per-image mean, test set only" and row["replicates"] == 1
    assert np.isinf(row["df"]) and "test-set sampling only" in row["note"]
    units = [make_classification("cnn1", "label_free", 0.6, seed=1), make_classification("cnn1", "fluorescence", 0.8)]
    assert paired_comparisons(units)["test"].iloc[0] == "DeLong test, test set only"


def test_holm_within_each_family_and_the_learnable_subsets_as_clusters(make_segmentation):
    units = []
    for train_size, subsets in ((300, 2), (None, 1), (100, 2)):
        for subset in range(subsets):
            for replicate in range(2):
                for k, (modality, dice) in enumerate((("virtual_effunet", 0.75), ("label_free", 0.7),
                                                      ("fluorescence", 0.72))):
                    units.append(make_segmentation("unet2", modality, dice, train_size=train_size, subset=subset,
                                                   replicate=replicate, seed=100 * subset + 10 * replicate + k))
    units.append(make_segmentation("unet2", "fluorescence", 0.7, train_size=5000))  # no reference: skipped
    table = paired_comparisons(units)
    assert len(table) == 6 and str(table["train_size"].dtype) == "Int64"
    assert table["train_size"].isna().tolist() == [True, True, False, False, False, False]
    assert list(table["train_size"].iloc[2:].astype(int)) == [100, 100, 300, 300]
    assert list(table["replicates"]) == [2, 2, 4, 4, 4, 4]
    for _, rows in table.groupby("family"):
        np.testing.assert_allclose(rows["p_adjusted"], holm(rows["p_value"].to_numpy()))
    assert set(table["family"]) == {"virtual_effunet dice capacity", "fluorescence dice capacity",
                                    "virtual_effunet dice train_size", "fluorescence dice train_size"}
    learnable = [u for u in units if u.train_size == 100]
    pairs = sorted((u for u in learnable if u.modality == "virtual_effunet"), key=lambda u: (u.subset, u.replicate))
    references = sorted((u for u in learnable if u.modality == "label_free"), key=lambda u: (u.subset, u.replicate))
    differences = paired_differences(pairs, references, "dice")
    expected = combine_replicates(differences.values, differences.covariance, clusters=[0, 0, 1, 1])
    row = table[(table["train_size"] == 100) & (table["modality"] == "virtual_effunet")].iloc[0]
    assert (row["difference"], row["se"], row["df"]) == pytest.approx((expected.estimate, expected.se, expected.df))


def test_replicate_rows(make_segmentation, make_classification):
    units = [make_segmentation("unet1", modality, dice, seed=seed + 10 * r, replicate=r)
             for r in range(2) for modality, dice, seed in (("label_free", 0.6, 1), ("virtual_pix2pixhd", 0.7, 2))]
    table = replicate_comparisons(units, n_boot=1000)
    assert list(table.columns) == list(REPLICATE_COLUMNS)
    assert list(table["replicate"]) == [0, 1] and table["test"].iloc[0] == "paired bootstrap (bca)"
    a = units[1].scores["dice"].to_numpy() - units[0].scores["dice"].to_numpy()
    assert table["se"].iloc[0] == pytest.approx(a.std(ddof=1) / np.sqrt(a.size))
    assert table["p_value"].iloc[0] == pytest.approx(2 / 1001, rel=0.2) and table["p_value"].min() > 0
    assert table["run"].iloc[1] == "seg-unet1-virtual_pix2pixhd-all-s0-r1"
    assert table.equals(replicate_comparisons(units, n_boot=1000))
    label_free = make_classification("cnn3", "label_free", 0.6, seed=1)
    rows = replicate_comparisons([label_free, copy_as(label_free, "fluorescence")])
    assert rows["difference"].iloc[0] == 0 and rows["p_value"].iloc[0] == 1.0
    assert rows["test"].iloc[0].startswith("sign-flip permutation") and "se of the difference is 0" in \
        rows["note"].iloc[0]


def test_unknown_reference(make_segmentation):
    with pytest.raises(ConfigError, match=r"reference: found 'phase'; expected one of label_free"):
        paired_comparisons([make_segmentation("unet1", "label_free", 0.7)], reference="phase")


def test_absent_reference(make_segmentation):
    with pytest.raises(InputDataError, match=r"reference modality virtual_effunet: found in none of the 1 units"):
        paired_comparisons([make_segmentation("unet1", "label_free", 0.7)], reference="virtual_effunet")


def test_unknown_metric(make_segmentation):
    with pytest.raises(ConfigError, match=r"metrics: found \['iou'\]; expected one or more of precision, recall, dice"):
        replicate_comparisons([make_segmentation("unet1", "label_free", 0.7)], metrics=("iou",))


def test_unusable_pair_is_named(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7, n=3)
    b = make_segmentation("unet1", "fluorescence", 0.7, n=3)
    b.scores["recall"] = [np.nan, 0.5, np.nan]
    with pytest.raises(InputDataError, match=r"seg-unet1-fluorescence-all-s0 .* vs seg-unet1-label_free-all-s0 .*, "
                                             r"recall: columns: found 1 item\(s\) with every column defined"):
        paired_comparisons([a, b], metrics=("recall",))
    with pytest.raises(InputDataError, match=r"seg-unet1-fluorescence-all-s0 .* vs seg-unet1-label_free-all-s0 .*, "
                                             r"recall: paired bootstrap needs at least 2 images"):
        replicate_comparisons([a, b], metrics=("recall",), n_boot=100)


def test_unusable_labels_are_named(make_classification):
    a = make_classification("cnn1", "label_free", 0.7)
    b = make_classification("cnn1", "fluorescence", 0.8, seed=1)
    a.scores["label"], b.scores["label"] = 1, 1
    with pytest.raises(InputDataError, match=r"^cls-cnn1-fluorescence-all-s0 .* vs cls-cnn1-label_free-all-s0 .*, auc: "
                                             r"cls-cnn1-fluorescence-all-s0 .* and 1 more: labels: found only class 1"):
        paired_comparisons([a, b])
    with pytest.raises(InputDataError, match=r"^cls-cnn1-fluorescence-all-s0 .* vs cls-cnn1-label_free-all-s0 .*: "
                                             r"labels: found only class 1"):
        replicate_comparisons([a, b])


def test_trainings_still_degenerate_are_left_out_and_counted(make_classification):
    """A pair with a failed training drops out of the combined row; with no pair left, the row is NaN."""
    units = []
    for r in range(3):
        label_free = make_classification("resnet18", "label_free", 0.7, seed=1 + 10 * r, replicate=r,
                                         train_size=200)
        stained = make_classification("resnet18", "virtual_effunet", 0.8, seed=2 + 10 * r, replicate=r,
                                      train_size=200)
        units += [label_free, stained]
    failed = "constant output: validation scores span 0"
    flagged = [dataclasses.replace(unit, degenerate=failed) if (unit.replicate == 1 and unit.modality == "label_free")
               else unit for unit in units]
    table = paired_comparisons(flagged)
    row = table.iloc[0]
    expected = paired_comparisons([unit for unit in units if unit.replicate != 1]).iloc[0]
    assert (row["replicates"], row["degenerate_excluded"]) == (2, 1)
    assert (row["difference"], row["se"], row["p_value"]) == pytest.approx(
        (expected["difference"], expected["se"], expected["p_value"]))
    assert "1 of 3 paired trainings left out: still degenerate after the last attempt" in row["note"]
    assert "-r1" not in row["runs"]
    assert paired_comparisons(units).iloc[0]["degenerate_excluded"] == 0

    all_failed = paired_comparisons([dataclasses.replace(unit, degenerate=failed) for unit in units])
    row = all_failed.iloc[0]
    assert (row["replicates"], row["degenerate_excluded"], row["n"]) == (0, 3, 300)
    assert np.isnan([row["difference"], row["se"], row["ci_low"], row["p_value"], row["p_adjusted"]]).all()
    assert row["note"] == "3 of 3 paired trainings left out: still degenerate after the last attempt: no comparison"

    per_training = replicate_comparisons(flagged)
    assert list(per_training["note"].str.contains("label_free still degenerate: constant output")) == \
        [False, True, False]

"""Checks of a set of units: one task, the task's columns, unique keys, the paired design."""

import dataclasses

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.evaluation import UnitScores, check_units
from stainworth.evaluation.units import aligned_scores


def test_a_valid_paired_set_passes(make_segmentation):
    units = [make_segmentation("unet1", m, 0.7, seed=i) for i, m in enumerate(["label_free", "fluorescence"])]
    assert check_units(units) == "segmentation"


def test_items_may_come_in_any_order(make_classification):
    first = make_classification("cnn1", "label_free", 0.7)
    other = make_classification("cnn1", "fluorescence", 0.8, seed=1)
    shuffled = dataclasses.replace(other, scores=other.scores.sample(frac=1.0, random_state=0))
    assert check_units([first, shuffled]) == "classification"


def test_units_compare_by_identity(make_segmentation):
    unit = make_segmentation("unet1", "label_free", 0.7)
    assert unit == unit and unit != make_segmentation("unet1", "label_free", 0.7)
    assert unit.key == ("segmentation", "unet1", "label_free", None, 0, 0)


def test_no_units():
    with pytest.raises(InputDataError, match=r"^no units: found 0 units"):
        check_units([])


def test_unknown_task(make_segmentation):
    unit = dataclasses.replace(make_segmentation("unet1", "label_free", 0.7), task="detection")
    with pytest.raises(InputDataError, match=r"task 'detection' is unknown; expected one of segmentation"):
        check_units([unit])


def test_mixed_tasks(make_segmentation, make_classification):
    units = [make_segmentation("unet1", "label_free", 0.7), make_classification("cnn1", "label_free", 0.7)]
    with pytest.raises(InputDataError, match=r"mixed tasks: cls-cnn1-label_free-all-s0 .* is 'classification' but "
                                             r"the first unit is 'segmentation'"):
        check_units(units)


def test_unknown_modality(make_segmentation):
    unit = dataclasses.replace(make_segmentation("unet1", "label_free", 0.7), modality="brightfield")
    with pytest.raises(InputDataError, match=r"modality 'brightfield' is unknown"):
        check_units([unit])


def test_missing_columns(make_segmentation):
    unit = make_segmentation("unet1", "label_free", 0.7)
    unit = dataclasses.replace(unit, scores=unit.scores.drop(columns=["dice", "recall"]))
    with pytest.raises(InputDataError, match=r"seg-unet1-label_free-all-s0 .*: scores lack column\(s\) recall, dice; "
                                             r"expected item, precision, recall, dice for segmentation"):
        check_units([unit])


def test_empty_scores(make_segmentation):
    unit = make_segmentation("unet1", "label_free", 0.7)
    unit = dataclasses.replace(unit, scores=unit.scores.iloc[:0])
    with pytest.raises(InputDataError, match=r"scores have no rows"):
        check_units([unit])


def test_duplicated_item(make_classification):
    unit = make_classification("cnn1", "label_free", 0.7)
    unit.scores.loc[5, "item"] = 4
    with pytest.raises(InputDataError, match=r"test item 4 appears more than once"):
        check_units([unit])


def test_duplicate_units(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7)
    b = dataclasses.replace(a, run="rerun")
    with pytest.raises(InputDataError, match=r"duplicate unit: seg-unet1-label_free-all-s0 .* and rerun .* have the "
                                             r"same task, architecture, modality, train_size, subset and replicate"):
        check_units([a, b])
    assert check_units([a, dataclasses.replace(b, replicate=1)]) == "segmentation"


def test_broken_pairing_names_both_units(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7)
    b = make_segmentation("unet1", "virtual_effunet", 0.8, n=100)
    with pytest.raises(InputDataError, match=r"paired design broken: seg-unet1-label_free-all-s0 .* and "
                                             r"seg-unet1-virtual_effunet-all-s0 .* score different test items "
                                             r"\(20 in only one of them\)"):
        check_units([b, a])


def test_other_subsets_need_not_share_items(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7, train_size=100, subset=0)
    b = make_segmentation("unet1", "label_free", 0.7, train_size=100, subset=1, n=90)
    assert check_units([a, b]) == "segmentation"


def test_labels_must_agree_between_modalities(make_classification):
    a = make_classification("cnn1", "label_free", 0.7)
    b = make_classification("cnn1", "fluorescence", 0.9)
    b.scores["label"] = np.roll(b.scores["label"].to_numpy(), 1)
    with pytest.raises(InputDataError, match=r"paired design broken: .* give test item 0 different labels"):
        check_units([a, b])


def test_unit_describe(make_segmentation):
    unit = make_segmentation("unet2", "fluorescence", 0.7, train_size=300, subset=2)
    assert unit.describe() == ("seg-unet2-fluorescence-300-s2 (unet2, fluorescence, train_size=300, subset 2, "
                               "replicate 0)")
    assert isinstance(unit, UnitScores) and unit.pair_key == ("unet2", 300, 2, 0)


def test_replicates_pair_with_the_same_replicate(make_segmentation):
    units = [make_segmentation("unet1", m, 0.7, replicate=r, seed=r)
             for r in (0, 1) for m in ("label_free", "fluorescence")]
    assert [unit.pair_key for unit in units] == [("unet1", None, 0, 0)] * 2 + [("unet1", None, 0, 1)] * 2
    assert units[2].run == "seg-unet1-label_free-all-s0-r1" and "replicate 1" in units[2].describe()
    short = make_segmentation("unet1", "fluorescence", 0.7, replicate=1, n=100)
    with pytest.raises(InputDataError, match=r"paired design broken: .*-r1 .* score different test items"):
        check_units([*units[:3], short])


def test_aligned_scores_put_every_unit_on_the_sorted_items(make_classification):
    a = make_classification("cnn1", "label_free", 0.7, seed=1)
    b = make_classification("cnn3", "fluorescence", 0.8, seed=2, replicate=2)
    shuffled = dataclasses.replace(b, scores=b.scores.sample(frac=1.0, random_state=0))
    matrix, labels = aligned_scores([a, shuffled], "score")
    assert matrix.shape == (300, 2) and labels.tolist() == a.scores["label"].tolist()
    np.testing.assert_array_equal(matrix[:, 1], b.scores["score"].to_numpy())


def test_aligned_scores_refuse_another_test_set(make_classification, make_segmentation):
    a = make_classification("cnn1", "label_free", 0.7)
    with pytest.raises(InputDataError, match=r"shared test set broken: cls-cnn1-label_free-all-s0 .* and "
                                             r"cls-cnn3-label_free-all-s0 .* score different test items \(20 in only "
                                             r"one of them\)"):
        aligned_scores([a, make_classification("cnn3", "label_free", 0.7, n=140)], "score")
    relabelled = make_classification("cnn3", "label_free", 0.7)
    relabelled.scores["label"] = np.roll(relabelled.scores["label"].to_numpy(), 1)
    with pytest.raises(InputDataError, match=r"shared test set broken: .* give test item 0 different labels"):
        aligned_scores([a, relabelled], "score")
    with pytest.raises(InputDataError, match=r"no units: found 0 units; expected at least one unit to align"):
        aligned_scores([], "dice")
    matrix, labels = aligned_scores([make_segmentation("unet1", "label_free", 0.7)], "recall")
    assert labels is None and np.isnan(matrix[::10, 0]).all()

"""Capacity and learnable-capacity tables: rows, order, intervals, spreads over subsets."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from stainworth.errors import InputDataError
from stainworth.evaluation import capacity_table, learnable_table, mean_interval
from stainworth.metrics import empirical_auc

MODALITIES = ["label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence"]
LADDER = [("cnn1", 1_234), ("cnn3", 60_305), ("resnet18", 11_176_512)]


@pytest.fixture(scope="module")
def classification_units(make_classification):
    """Three capacities x four modalities (AUC rising with capacity), given in shuffled order, plus a subset unit."""
    classification_unit = make_classification
    units = [classification_unit(arch, modality, 0.6 + 0.1 * i + 0.02 * j, capacity=cap, seed=10 * i + j)
             for i, (arch, cap) in enumerate(LADDER) for j, modality in enumerate(MODALITIES)]
    order = np.random.default_rng(0).permutation(len(units))
    extra = classification_unit("resnet18", "label_free", 0.7, capacity=11_176_512, train_size=100, seed=99)
    return [units[k] for k in order] + [extra]


def test_capacity_table_rows_and_order(classification_units):
    table = capacity_table(classification_units)
    assert len(table) == 12
    assert list(table["architecture"]) == [arch for arch, _ in LADDER for _ in MODALITIES]
    assert list(table["modality"]) == MODALITIES * 3
    assert list(table["capacity"]) == [cap for _, cap in LADDER for _ in MODALITIES]
    assert table["run"].iloc[0] == "cls-cnn1-label_free-all-s0"
    assert {"auc", "auc_se", "auc_ci_low", "auc_ci_high", "binormal_auc", "binormal_auc_se", "binormal_auc_ci_low",
            "binormal_auc_ci_high", "binormal_degenerate", "binormal_note", "n_pos", "n_neg"} <= set(table.columns)
    assert "train_size" not in table.columns and (table["n"] == 300).all()


def test_capacity_table_auc_matches_metrics(classification_units):
    table = capacity_table(classification_units)
    unit = next(u for u in classification_units if u.run == table["run"].iloc[5])
    expected = empirical_auc(unit.scores["score"], unit.scores["label"])
    assert table["auc"].iloc[5] == pytest.approx(expected.auc) and table["auc_se"].iloc[5] == pytest.approx(expected.se)


def test_auc_intervals_contain_the_true_auc(make_classification):
    """400 + 400 cases per unit from binormal distributions with known AUC; a 95 % interval of each estimate."""
    truth = {"label_free": 0.65, "virtual_effunet": 0.75, "virtual_pix2pixhd": 0.85, "fluorescence": 0.93}
    units = [make_classification("cnn1", m, auc, n=400, seed=k) for k, (m, auc) in enumerate(truth.items())]
    table = capacity_table(units).set_index("modality")
    for modality, auc in truth.items():
        row = table.loc[modality]
        assert row["auc_ci_low"] < auc < row["auc_ci_high"]
        assert row["binormal_auc_ci_low"] < auc < row["binormal_auc_ci_high"]
        assert not row["binormal_degenerate"]
        assert abs(row["binormal_auc"] - auc) < 3 * row["binormal_auc_se"]


def test_degenerate_binormal_is_flagged(make_classification):
    unit = make_classification("cnn1", "label_free", 0.7)
    unit.scores["score"] = unit.scores["label"] * 0.5 + 0.25  # perfectly separated
    row = capacity_table([unit]).iloc[0]
    assert row["binormal_degenerate"] and "perfectly separated" in row["binormal_note"]
    assert row["binormal_auc"] == 1.0 and np.isnan(row["binormal_auc_ci_low"])


def test_segmentation_capacity_table(make_segmentation):
    units = [make_segmentation(arch, m, 0.6 + 0.05 * i, capacity=cap, seed=i + 4 * j)
             for i, (arch, cap) in enumerate([("unet2", 9_000), ("unet1", 2_000)]) for j, m in enumerate(MODALITIES)]
    table = capacity_table(units)
    assert list(table["architecture"]) == ["unet1"] * 4 + ["unet2"] * 4
    row, unit = table.iloc[0], next(u for u in units if u.run == table["run"].iloc[0])
    for metric in ("precision", "recall", "dice"):
        values = unit.scores[metric].to_numpy()
        assert row[metric] == pytest.approx(np.nanmean(values))
        assert row[f"{metric}_ci_low"] < row[metric] < row[f"{metric}_ci_high"]
        assert row[f"{metric}_n"] == np.count_nonzero(~np.isnan(values))
    assert row["recall_n"] == 108 and row["n"] == 120
    pd.testing.assert_frame_equal(table, capacity_table(units))  # seeded: the same table twice


def test_mean_interval_covers_the_true_mean():
    rng = np.random.default_rng(3)
    values = rng.beta(6, 2, 400)  # true mean 0.75
    mean, low, high, n = mean_interval(np.r_[values, np.nan], n_boot=4000, seed=1)
    assert n == 400 and mean == pytest.approx(values.mean()) and low < 0.75 < high
    assert high - low == pytest.approx(2 * 1.96 * values.std(ddof=1) / np.sqrt(400), rel=0.1)
    assert mean_interval(np.array([np.nan]))[3] == 0 and np.isnan(mean_interval(np.array([np.nan]))[0])
    assert mean_interval(np.array([0.4]))[:3] == (0.4, 0.4, 0.4)


def test_capacity_table_needs_sweep_units(make_segmentation):
    unit = make_segmentation("unet1", "label_free", 0.7, train_size=100)
    with pytest.raises(InputDataError, match=r"capacity sweep: found no unit with train_size None among 1 units"):
        capacity_table([unit])


def test_capacity_table_one_unit_per_architecture_and_modality(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7)
    b = dataclasses.replace(make_segmentation("unet1", "label_free", 0.7), subset=1, run="second")
    with pytest.raises(InputDataError, match=r"capacity sweep: seg-unet1-label_free-all-s0 .* and second .* are both "
                                             r"unet1/label_free; expected one unit per architecture and modality"):
        capacity_table([a, b])


def test_capacity_table_names_the_unit_with_unusable_labels(make_classification):
    unit = make_classification("cnn1", "label_free", 0.7)
    unit.scores["label"] = 1
    with pytest.raises(InputDataError, match=r"^cls-cnn1-label_free-all-s0 .*: labels: found only class 1"):
        capacity_table([unit])


def test_learnable_table_segmentation(make_segmentation):
    units = [make_segmentation("efficientunet7", m, 0.5 + 0.1 * k + 0.05 * j, capacity=66_000_000, train_size=size,
                               subset=s, seed=100 * k + 10 * j + s)
             for k, size in enumerate([1000, 100]) for j, m in enumerate(["fluorescence", "label_free"])
             for s in (2, 0, 1)]
    units.append(make_segmentation("efficientunet7", "label_free", 0.9, capacity=66_000_000))  # sweep: ignored
    table = learnable_table(units)
    assert list(zip(table["train_size"], table["modality"], strict=True)) == [
        (100, "label_free"), (100, "fluorescence"), (1000, "label_free"), (1000, "fluorescence")]
    assert (table["n_subsets"] == 3).all()
    row = table.iloc[0]
    group = sorted((u for u in units if u.train_size == 100 and u.modality == "label_free"), key=lambda u: u.subset)
    for metric in ("precision", "recall", "dice"):
        per_subset = [np.nanmean(u.scores[metric]) for u in group]
        assert row[f"{metric}_mean"] == pytest.approx(np.mean(per_subset))
        assert row[f"{metric}_std"] == pytest.approx(np.std(per_subset, ddof=1))
    assert row["runs"] == ";".join(f"seg-efficientunet7-label_free-100-s{s}" for s in range(3))


def test_learnable_table_classification(make_classification):
    units = [make_classification("resnet101", m, auc, capacity=42_500_000, train_size=500, subset=s, seed=7 * s + j)
             for j, (m, auc) in enumerate([("label_free", 0.8), ("virtual_pix2pixhd", 0.7)]) for s in range(2)]
    units.append(make_classification("resnet101", "label_free", 0.9, capacity=42_500_000, train_size=8000, seed=5))
    table = learnable_table(units)
    assert list(table["train_size"]) == [500, 500, 8000]
    first = [empirical_auc(u.scores["score"], u.scores["label"]).auc for u in units[:2]]
    assert table["auc_mean"].iloc[0] == pytest.approx(np.mean(first))
    assert table["auc_std"].iloc[0] == pytest.approx(np.std(first, ddof=1))
    assert {"binormal_auc_mean", "binormal_auc_std"} <= set(table.columns)
    assert list(table["n_binormal_degenerate"]) == [0, 0, 0]
    assert table["n_subsets"].iloc[2] == 1 and np.isnan(table["auc_std"].iloc[2])


def test_learnable_table_needs_subset_units(make_segmentation):
    with pytest.raises(InputDataError, match=r"learnable-capacity sweep: found no unit with a train_size"):
        learnable_table([make_segmentation("unet1", "label_free", 0.7)])

"""Capacity and learnable-capacity tables: rows, order, combined intervals over replicates and subsets."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from stainworth.errors import InputDataError
from stainworth.evaluation import capacity_table, learnable_table, mean_interval, unit_statistics
from stainworth.metrics import combine_replicates, delong_covariance, empirical_auc, fit_binormal, mean_covariance
from stainworth.metrics.replicates import TEST_ONLY_NOTE

MODALITIES = ["label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence"]
LADDER = [("cnn1", 1_234), ("cnn3", 60_305), ("resnet18", 11_176_512)]


@pytest.fixture(scope="module")
def classification_units(make_classification):
    """Three capacities x four modalities x two replicates (AUC rising with capacity), shuffled, plus a subset unit."""
    units = [make_classification(arch, modality, 0.6 + 0.1 * i + 0.02 * j, capacity=cap, seed=100 * r + 10 * i + j,
                                 replicate=r)
             for i, (arch, cap) in enumerate(LADDER) for j, modality in enumerate(MODALITIES) for r in range(2)]
    order = np.random.default_rng(0).permutation(len(units))
    extra = make_classification("resnet18", "label_free", 0.7, capacity=11_176_512, train_size=100, seed=99)
    return [units[k] for k in order] + [extra]


def test_capacity_table_rows_and_order(classification_units):
    table = capacity_table(classification_units)
    assert len(table) == 3 * 4 * 3
    assert list(table["architecture"]) == [arch for arch, _ in LADDER for _ in range(12)]
    assert list(table["modality"]) == [m for _ in LADDER for m in MODALITIES for _ in range(3)]
    assert str(table["replicate"].dtype) == "Int64" and str(table["replicates"].dtype) == "Int64"
    assert table["replicate"].isna().tolist() == [True, False, False] * 12  # summary row first, then replicates
    assert table["replicate"].iloc[1:3].tolist() == [0, 1] and table["replicates"].iloc[0] == 2
    assert table["run"].iloc[0] == "cls-cnn1-label_free-all-s0;cls-cnn1-label_free-all-s0-r1"
    assert table["run"].iloc[2] == "cls-cnn1-label_free-all-s0-r1"
    assert {"auc", "auc_se", "auc_ci_low", "auc_ci_high", "auc_df", "auc_training_sd", "auc_se_test", "binormal_auc",
            "binormal_auc_se", "binormal_auc_ci_low", "binormal_auc_ci_high", "binormal_auc_df",
            "binormal_degenerate", "binormal_note", "n_pos", "n_neg", "replicates", "note"} <= set(table.columns)
    assert list(table.columns[-3:]) == ["replicates", "note", "run"]
    assert "train_size" not in table.columns and (table["n"] == 300).all()
    replicate_rows = table[table["replicate"].notna()]
    assert replicate_rows["auc_df"].isna().all() and replicate_rows["replicates"].isna().all()


def test_replicate_rows_are_each_training_on_the_test_set(classification_units):
    table = capacity_table(classification_units)
    row = table.iloc[5]
    unit = next(u for u in classification_units if u.run == row["run"])
    expected = empirical_auc(unit.scores["score"], unit.scores["label"])
    assert (row["auc"], row["auc_se"], row["auc_ci_low"]) == pytest.approx((expected.auc, expected.se,
                                                                             expected.ci_low))
    assert row["binormal_auc"] == pytest.approx(fit_binormal(unit.scores["score"], unit.scores["label"]).auc)


def test_summary_rows_combine_the_replicates(classification_units):
    table = capacity_table(classification_units)
    summary = table.iloc[3]
    group = sorted((u for u in classification_units if u.architecture == "cnn1" and u.modality == "virtual_effunet"
                    and u.train_size is None), key=lambda u: u.replicate)
    stacked = np.vstack([u.scores.sort_values("item")["score"] for u in group])
    delong = delong_covariance(stacked, group[0].scores.sort_values("item")["label"])
    expected = combine_replicates(delong.aucs, delong.covariance, df_method="components")
    assert summary["auc"] == pytest.approx(np.mean(table["auc"].iloc[4:6]))
    assert (summary["auc"], summary["auc_se"], summary["auc_ci_low"], summary["auc_ci_high"], summary["auc_df"],
            summary["auc_training_sd"], summary["auc_se_test"]) == pytest.approx(
        (expected.estimate, expected.se, expected.ci_low, expected.ci_high, expected.df, expected.training_sd,
         expected.se_test))
    assert summary["auc_df"] >= 1.0  # at least G - 1 (two replicates)
    assert summary["binormal_auc"] == pytest.approx(np.mean(table["binormal_auc"].iloc[4:6]))
    assert summary["binormal_auc_se"] > 0 and "DeLong's correlation" in summary["note"]


def test_binormal_covariance_is_deLongs_correlation_times_the_binormal_se(make_classification):
    units = [make_classification("cnn1", "label_free", 0.8, seed=s, replicate=s) for s in range(3)]
    stats = unit_statistics(units, "binormal_auc")
    delong = unit_statistics(units, "auc")
    se = np.array([fit_binormal(u.scores["score"], u.scores["label"]).se for u in units])
    correlation = delong.covariance / np.sqrt(np.outer(np.diag(delong.covariance), np.diag(delong.covariance)))
    np.testing.assert_allclose(stats.covariance, correlation * np.outer(se, se))
    assert stats.n == 300 and "approximated" in stats.note


def test_one_replicate_still_gets_a_summary_row_that_says_test_only(make_classification):
    unit = make_classification("cnn1", "label_free", 0.8)
    table = capacity_table([unit])
    summary, replicate = table.iloc[0], table.iloc[1]
    assert pd.isna(summary["replicate"]) and summary["replicates"] == 1 and replicate["replicate"] == 0
    assert summary["auc"] == replicate["auc"] and summary["auc_se"] == pytest.approx(replicate["auc_se"])
    assert math.isinf(summary["auc_df"]) and TEST_ONLY_NOTE in summary["note"]


def test_auc_intervals_contain_the_true_auc(make_classification):
    """400 + 400 cases per unit from binormal distributions with known AUC; a 95 % interval of each estimate."""
    truth = {"label_free": 0.65, "virtual_effunet": 0.75, "virtual_pix2pixhd": 0.85, "fluorescence": 0.93}
    units = [make_classification("cnn1", m, auc, n=400, seed=k) for k, (m, auc) in enumerate(truth.items())]
    table = capacity_table(units)
    for modality, auc in truth.items():
        for _, row in table[table["modality"] == modality].iterrows():
            assert row["auc_ci_low"] < auc < row["auc_ci_high"]
            assert row["binormal_auc_ci_low"] < auc < row["binormal_auc_ci_high"]
            assert not row["binormal_degenerate"]


def test_degenerate_binormal_is_flagged(make_classification):
    unit = make_classification("cnn1", "label_free", 0.7)
    unit.scores["score"] = unit.scores["label"] * 0.5 + 0.25  # perfectly separated
    table = capacity_table([unit])
    summary, row = table.iloc[0], table.iloc[1]
    assert row["binormal_degenerate"] and "perfectly separated" in row["binormal_note"]
    assert row["binormal_auc"] == 1.0 and np.isnan(row["binormal_auc_ci_low"])
    assert "DeLong's se is 0" in row["note"]
    assert summary["binormal_degenerate"] and np.isnan(summary["binormal_auc_se"]) and summary["binormal_auc"] == 1.0
    assert "1 degenerate fit(s): no interval" in summary["note"]


def test_segmentation_capacity_table(make_segmentation):
    units = [make_segmentation(arch, m, 0.6 + 0.05 * i, capacity=cap, seed=i + 4 * j + 20 * r, replicate=r)
             for i, (arch, cap) in enumerate([("unet2", 9_000), ("unet1", 2_000)]) for j, m in enumerate(MODALITIES)
             for r in range(3)]
    table = capacity_table(units)
    assert list(table["architecture"]) == ["unet1"] * 16 + ["unet2"] * 16
    row, unit = table.iloc[1], next(u for u in units if u.run == table["run"].iloc[1])
    for metric in ("precision", "recall", "dice"):
        values = unit.scores[metric].to_numpy()
        assert row[metric] == pytest.approx(np.nanmean(values))
        assert row[f"{metric}_ci_low"] < row[metric] < row[f"{metric}_ci_high"]
        assert row[f"{metric}_n"] == np.count_nonzero(~np.isnan(values))
        assert row[f"{metric}_se"] == pytest.approx(np.nanstd(values, ddof=1) / np.sqrt(row[f"{metric}_n"]))
    assert row["recall_n"] == 108 and row["n"] == 120
    summary = table.iloc[0]
    group = [u for u in units if u.architecture == "unet1" and u.modality == "label_free"]
    columns = np.column_stack([u.scores["recall"] for u in sorted(group, key=lambda u: u.replicate)])
    result = mean_covariance(columns)
    expected = combine_replicates(result.means, result.covariance, df_method="components")
    assert (summary["recall"], summary["recall_se"], summary["recall_df"]) == pytest.approx(
        (expected.estimate, expected.se, expected.df))
    assert summary["recall_n"] == 108 and summary["dice_se"] > 0 and summary["replicates"] == 3
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


def test_capacity_table_one_unit_per_architecture_modality_and_replicate(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7)
    b = dataclasses.replace(make_segmentation("unet1", "label_free", 0.7), subset=1, run="second")
    with pytest.raises(InputDataError, match=r"capacity sweep: seg-unet1-label_free-all-s0 .* and second .* are both "
                                             r"unet1/label_free replicate 0; expected one unit per architecture, "
                                             r"modality and replicate"):
        capacity_table([a, b])


def test_replicates_scored_on_other_items_are_refused(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7)
    b = make_segmentation("unet1", "label_free", 0.7, replicate=1, n=100)
    with pytest.raises(InputDataError, match=r"capacity sweep, unet1/label_free: shared test set broken: "
                                             r"seg-unet1-label_free-all-s0 .* and seg-unet1-label_free-all-s0-r1 .* "
                                             r"score different test items \(20 in only one of them\)"):
        capacity_table([a, b])


def test_capacity_table_names_the_unit_with_unusable_labels(make_classification):
    unit = make_classification("cnn1", "label_free", 0.7)
    unit.scores["label"] = 1
    with pytest.raises(InputDataError, match=r"^cls-cnn1-label_free-all-s0 .*: labels: found only class 1"):
        capacity_table([unit])


def test_unit_statistics_refuses_a_metric_of_another_task(make_segmentation):
    with pytest.raises(InputDataError, match=r"metric: found 'auc' for segmentation units; expected one of "
                                             r"precision, recall, dice"):
        unit_statistics([make_segmentation("unet1", "label_free", 0.7)], "auc")
    with pytest.raises(InputDataError, match=r"no units: found 0 units"):
        unit_statistics([], "dice")


def test_learnable_table_segmentation(make_segmentation):
    units = [make_segmentation("efficientunet7", m, 0.5 + 0.1 * k + 0.05 * j, capacity=66_000_000, train_size=size,
                               subset=s, seed=100 * k + 10 * j + s + 1000 * r, replicate=r)
             for k, size in enumerate([1000, 100]) for j, m in enumerate(["fluorescence", "label_free"])
             for s in (2, 0, 1) for r in range(2)]
    units.append(make_segmentation("efficientunet7", "label_free", 0.9, capacity=66_000_000))  # sweep: ignored
    table = learnable_table(units)
    assert list(zip(table["train_size"], table["modality"], strict=True)) == [
        (100, "label_free"), (100, "fluorescence"), (1000, "label_free"), (1000, "fluorescence")]
    assert (table["n_subsets"] == 3).all() and (table["replicates"] == 2).all()
    row = table.iloc[0]
    group = sorted((u for u in units if u.train_size == 100 and u.modality == "label_free"),
                   key=lambda u: (u.subset, u.replicate))
    for metric in ("precision", "recall", "dice"):
        per_unit = [np.nanmean(u.scores[metric]) for u in group]
        assert row[f"{metric}_mean"] == pytest.approx(np.mean(per_unit))
        assert row[f"{metric}_std"] == pytest.approx(np.std(per_unit, ddof=1))
        stats = unit_statistics(group, metric)
        expected = combine_replicates(stats.values, stats.covariance, clusters=[u.subset for u in group],
                                      df_method="components")
        assert (row[f"{metric}_se"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], row[f"{metric}_df"]) == \
            pytest.approx((expected.se, expected.ci_low, expected.ci_high, expected.df))
    assert row["runs"] == ";".join(f"seg-efficientunet7-label_free-100-s{s}{suffix}" for s in range(3)
                                   for suffix in ("", "-r1"))


def test_learnable_table_classification(make_classification):
    units = [make_classification("resnet101", m, auc, capacity=42_500_000, train_size=500, subset=s, seed=7 * s + j)
             for j, (m, auc) in enumerate([("label_free", 0.8), ("virtual_pix2pixhd", 0.7)]) for s in range(2)]
    units.append(make_classification("resnet101", "label_free", 0.9, capacity=42_500_000, train_size=8000, seed=5))
    table = learnable_table(units)
    assert list(table["train_size"]) == [500, 500, 8000]
    first = [empirical_auc(u.scores["score"], u.scores["label"]).auc for u in units[:2]]
    assert table["auc_mean"].iloc[0] == pytest.approx(np.mean(first))
    assert table["auc_std"].iloc[0] == pytest.approx(np.std(first, ddof=1))
    assert table["auc_df"].iloc[0] >= 1.0 and table["auc_se"].iloc[0] > 0  # G - 1 = 1 subset df at least
    assert {"binormal_auc_mean", "binormal_auc_std", "binormal_auc_se", "binormal_auc_ci_low", "binormal_auc_df",
            "note"} <= set(table.columns)
    assert list(table["n_binormal_degenerate"]) == [0, 0, 0]
    last = table.iloc[2]
    assert last["n_subsets"] == 1 and np.isnan(last["auc_std"]) and math.isinf(last["auc_df"])
    assert TEST_ONLY_NOTE in last["note"]


def test_learnable_trainings_scored_on_other_items_are_refused(make_segmentation):
    a = make_segmentation("unet1", "label_free", 0.7, train_size=100, subset=0)
    b = make_segmentation("unet1", "label_free", 0.7, train_size=100, subset=1, n=90)
    with pytest.raises(InputDataError, match=r"learnable sweep, unet1/label_free/100: shared test set broken: .* score "
                                             r"different test items \(30 in only one of them\)"):
        learnable_table([a, b])


def test_learnable_table_needs_subset_units(make_segmentation):
    with pytest.raises(InputDataError, match=r"learnable-capacity sweep: found no unit with a train_size"):
        learnable_table([make_segmentation("unet1", "label_free", 0.7)])

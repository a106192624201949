"""Display tables: every number with its uncertainty and the unit it came from."""

import numpy as np

from stainworth.report import tables


def test_segmentation_capacity_rows_carry_intervals_and_units(data):
    shown = tables.capacity_display(data.seg_capacity(), "segmentation")
    assert list(shown.columns) == ["architecture", "parameters", "modality", "precision [95% CI]",
                                   "recall [95% CI]", "Dice [95% CI]", "test images", "unit"]
    first = shown.iloc[0]
    assert first["parameters"] == "1,233" and first["modality"] == "label-free"
    assert first["Dice [95% CI]"] == "0.420 [0.390, 0.460]"
    assert first["unit"] == "segmentation-unet1-label_free-all-s0 (abcdef00)"
    assert shown.iloc[1]["Dice [95% CI]"] == "0.470"  # undefined interval: the estimate alone


def test_classification_capacity_shows_both_aucs_and_class_counts(data):
    shown = tables.capacity_display(data.cls_capacity(), "classification")
    row = shown.iloc[4]
    assert row["architecture"] == "resnet18" and row["parameters"] == "11,170,753"
    assert row["AUC (empirical) [95% CI]"] == "0.750 [0.690, 0.800]"
    assert row["AUC (binormal) [95% CI]"] == "0.760 [0.700, 0.810]"
    assert row["control / treated"] == "100 / 100" and row["binormal fit"] == ""


def test_learnable_shows_mean_and_sd_over_subsets(data):
    shown = tables.learnable_display(data.cls_learnable(), "classification")
    assert shown.iloc[0]["AUC (empirical) mean ± SD"] == "0.550 ± 0.0200"
    assert shown.iloc[0]["units"] == "r-10-label_free-s0; r-10-label_free-s1"
    assert shown.iloc[0]["training images"] == "10" and shown.iloc[0]["subsets"] == "3"


def test_comparisons_name_the_capacity_sweep_and_the_reference(data):
    table = data.cls_capacity().iloc[:1][["architecture", "capacity", "modality", "run"]].assign(
        train_size=[np.nan], subset=[0], reference=["label_free"], metric=["auc"], value=[0.7], reference_value=[0.6],
        difference=[0.1], ci_low=[0.02], ci_high=[0.18], p_value=[0.013], test=["DeLong"], n=[200],
        reference_run=["ref-run"])
    shown = tables.comparisons_display(table).iloc[0]
    assert shown["training images"] == "all" and shown["label-free value"] == "0.600"
    assert shown["difference [95% CI]"] == "0.100 [0.0200, 0.180]" and shown["p"] == "0.0130"
    assert shown["reference unit"] == "ref-run"


def test_embeddings_hotelling_and_units(data):
    assert tables.embeddings_display(data.embeddings()).iloc[0]["cosine distance [95% CI]"] == \
        "0.0100 [0.00800, 0.0130]"
    assert tables.hotelling_display(data.hotelling()).iloc[1]["AUC [95% CI]"] == "0.750 [0.690, 0.810]"
    units = tables.units_display(data.units("classification"))
    assert set(units["stopped early"]) == {"yes", "no"}
    assert units.iloc[0]["initial weights"] == "none (trained from scratch)"


def test_quality_puts_stainers_before_baselines(data):
    shown = tables.quality_display(data.quality_summary())
    assert list(shown["method"]) == ["EfficientUNet", "Pix2pixHD", "identity (baseline)",
                                     "global linear (baseline)"]
    assert list(shown.columns)[1:4] == ["SSIM", "PSNR (dB)", "Pearson"]
    assert shown.iloc[0]["PSNR (dB)"] == "23.000 ± 0.0500" and shown.iloc[0]["test images"] == "12"


def test_headline_table_has_one_row_per_network_by_capacity(data):
    table = data.cls_capacity().iloc[::-1]
    shown = tables.headline_table(table[table["modality"] != "virtual_pix2pixhd"], "auc")
    assert list(shown["network (parameters)"]) == ["cnn1 (417)", "resnet18 (11,170,753)"]
    assert list(shown.columns[1:]) == ["label-free", "virtual (EfficientUNet)", "fluorescence"]
    assert shown.iloc[1]["fluorescence"] == "0.870 [0.810, 0.920]"

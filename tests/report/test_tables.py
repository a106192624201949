"""Display tables: every number with its uncertainty and the unit it came from."""

from stainworth.report import tables


def test_segmentation_capacity_shows_the_summary_rows_combined_over_replicates(data):
    shown = tables.capacity_display(data.seg_capacity(), "segmentation")
    assert list(shown.columns) == ["architecture", "parameters", "modality", "precision [95% CI]",
                                   "recall [95% CI]", "Dice [95% CI]", "trainings", "test images", "note", "units"]
    assert len(shown) == len(data.SEG_CAPACITY) * len(data.MODALITIES)  # no replicate rows
    first = shown.iloc[0]
    assert first["parameters"] == "1,233" and first["modality"] == "label-free" and first["trainings"] == "3"
    assert first["Dice [95% CI]"] == "0.420 [0.390, 0.460]"
    assert first["units"] == ("segmentation-unet1-label_free-all-s0-r0 (abcdef00); "
                              "segmentation-unet1-label_free-all-s0-r1 (abcdef01); "
                              "segmentation-unet1-label_free-all-s0-r2 (abcdef02)")
    assert shown.iloc[1]["Dice [95% CI]"] == "0.470"  # undefined interval: the estimate alone


def test_the_single_trainings_of_the_capacity_sweep_have_their_own_display(data):
    shown = tables.capacity_replicates_display(data.seg_capacity(), "segmentation")
    assert len(shown) == len(data.SEG_CAPACITY) * len(data.MODALITIES) * data.REPLICATES
    assert list(shown["replicate"][:3]) == ["0", "1", "2"]
    assert shown.iloc[0]["Dice [95% CI, test set]"] == "0.400 [0.380, 0.420]"
    assert shown.iloc[2]["unit"] == "segmentation-unet1-label_free-all-s0-r2 (abcdef02)"


def test_classification_capacity_shows_both_aucs_and_class_counts(data):
    shown = tables.capacity_display(data.cls_capacity(), "classification")
    row = shown.iloc[4]
    assert row["architecture"] == "resnet18" and row["parameters"] == "11,170,753"
    assert row["AUC (empirical) [95% CI]"] == "0.750 [0.720, 0.790]"
    assert row["AUC (binormal) [95% CI]"] == "0.760 [0.720, 0.810]"
    assert row["control / treated"] == "100 / 100" and row["binormal fit"] == "" and row["trainings"] == "3"


def test_the_replicates_are_named_in_words(data):
    capacity = data.cls_capacity()
    assert tables.replicates_phrase(capacity) == "combined over 3 replicates"
    mixed = capacity.copy()
    mixed.loc[0, "replicates"] = 2
    assert tables.replicates_phrase(mixed) == "combined over 2 to 3 replicates"
    single = capacity[capacity["replicate"].isna()].assign(replicates=1)
    assert tables.replicates_phrase(single) == "one training each: intervals cover test-set sampling only"
    assert tables.learnable_phrase(data.cls_learnable()) == "combined over 3 training subsets × 2 replicates"


def test_learnable_shows_mean_and_sd_over_trainings_and_the_combined_interval(data):
    shown = tables.learnable_display(data.cls_learnable(), "classification")
    first = shown.iloc[0]
    assert first["AUC (empirical) mean ± SD"] == "0.550 ± 0.0200"
    assert first["AUC (empirical) 95% CI"] == "[0.500, 0.610]"
    assert first["units"].split("; ")[:2] == ["classification-resnet18-label_free-10-s0-r0 (abcdef00)",
                                              "classification-resnet18-label_free-10-s0-r1 (abcdef01)"]
    assert first["training images"] == "10" and first["subsets"] == "3" and first["replicates per subset"] == "2"


def test_comparisons_show_difference_p_holm_and_family(data):
    table = data.comparisons("classification")
    shown = tables.comparisons_display(table)
    assert list(shown.columns) == ["architecture", "training images", "modality", "metric", "value",
                                   "label-free value", "difference [95% CI]", "df", "p", "Holm-adjusted p", "family",
                                   "trainings paired", "test", "test items", "note", "units"]
    first, learnable = shown.iloc[0], shown.iloc[2]
    assert first["training images"] == "all" and first["label-free value"] == "0.700"
    assert first["difference [95% CI]"] == "0.0800 [0.0300, 0.130]"
    assert first["p"] == "0.0130" and first["Holm-adjusted p"] == "0.0260" and first["df"] == "2.4"
    assert first["family"] == "virtual_effunet auc capacity" and first["trainings paired"] == "3"
    assert learnable["training images"] == "10" and learnable["family"] == "virtual_effunet auc train_size"
    assert first["units"].startswith("classification-cnn1-virtual_effunet-all-s0-r0 (abcdef00) vs "
                                     "classification-cnn1-label_free-all-s0-r0 (abcdef00); ")


def test_embeddings_hotelling_and_units(data):
    assert tables.embeddings_display(data.embeddings()).iloc[0]["cosine distance [95% CI]"] == \
        "0.0100 [0.00800, 0.0130]"
    assert tables.hotelling_display(data.hotelling()).iloc[1]["AUC [95% CI]"] == "0.750 [0.690, 0.810]"
    distances = tables.embedding_distances_display(data.embedding_distances())
    assert list(distances.iloc[0][["compared with the real fluorescence", "distance", "estimate [95% CI]"]]) == [
        "virtual (EfficientUNet)", "Fréchet", "2.000 [1.600, 2.600]"]
    assert distances.iloc[4]["compared with the real fluorescence"] == "identity (label-free)"
    units = tables.units_display(data.units("classification"), "classification")
    assert set(units["ended"]) == {"stopped early", "ran to the epoch cap"}
    first = units.iloc[0]
    assert first["initial weights"] == "none (trained from scratch)" and first["replicate"] == "0"
    assert first["initialisation seed"] == "1000" and first["test AUC (empirical)"] == "0.500"
    assert first["still degenerate"] == "" and first["attempts"] == "1"


def test_quality_puts_stainers_before_baselines(data):
    shown = tables.quality_display(data.quality_summary())
    assert list(shown["method"]) == ["EfficientUNet", "Pix2pixHD", "identity (baseline)",
                                     "global linear (baseline)"]
    assert list(shown.columns)[1:4] == ["SSIM", "PSNR (dB)", "Pearson"]
    assert shown.iloc[0]["PSNR (dB)"] == "23.000 ± 0.0500" and shown.iloc[0]["test images"] == "12"


def test_quality_by_class_puts_external_stainers_between_the_studys_and_the_baselines():
    import pandas as pd

    rows = [{"method": method, "class": name, "metric": metric, "mean": 0.5 + k, "std": 0.01, "n": 3}
            for k, method in enumerate(["linear", "mylab", "efficientunet", "identity"])
            for name in ("control", "treated") for metric in ("ssim", "frc_um")]
    shown = tables.quality_by_class_display(pd.DataFrame(rows))
    assert list(shown["method"]) == ["EfficientUNet", "mylab", "identity (baseline)", "global linear (baseline)"]
    assert list(shown.columns) == ["method", "SSIM, control", "SSIM, treated", "Pearson, control", "Pearson, treated",
                                   "Pearson in nuclei, control", "Pearson in nuclei, treated",
                                   "FRC resolution (µm), control", "FRC resolution (µm), treated"]
    assert shown.iloc[1]["SSIM, treated"] == "1.500 ± 0.0100" and shown.iloc[1]["Pearson, control"] == "–"


def test_feature_distances_show_each_distance_with_its_interval_stainers_first():
    import pandas as pd

    rows = [{"method": method, "distance": name, "estimate": 0.25 * k, "ci_low": 0.0, "ci_high": 1.0, "n": 400}
            for k, method in enumerate(["identity", "pix2pixhd"]) for name in ("frechet", "kernel")]
    shown = tables.feature_distance_display(pd.DataFrame(rows))
    assert list(shown["method"]) == ["Pix2pixHD", "identity (baseline)"]
    assert shown.iloc[0].to_dict() == {"method": "Pix2pixHD", "Fréchet distance": "0.250 [0.000, 1.000]",
                                       "Kernel distance": "0.250 [0.000, 1.000]", "nuclei": "400"}


def test_headline_table_has_one_row_per_network_by_capacity_from_the_summary_rows(data):
    table = data.cls_capacity().iloc[::-1]
    shown = tables.headline_table(table[table["modality"] != "virtual_pix2pixhd"], "auc")
    assert list(shown["network (parameters)"]) == ["cnn1 (417)", "resnet18 (11,170,753)"]
    assert list(shown.columns[1:]) == ["label-free", "virtual (EfficientUNet)", "fluorescence"]
    assert shown.iloc[1]["fluorescence"] == "0.870 [0.840, 0.910]"
    assert shown.attrs["combined"] == "combined over 3 replicates"

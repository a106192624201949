"""Departures from the study, read from the evaluations' configurations and unit tables."""

import pandas as pd
import pytest

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.contracts.task import EvaluationManifest, TasksConfig
from stainworth.errors import InputDataError
from stainworth.report.deviations import deviations
from stainworth.report.inputs import read_evaluation


def evaluation(data, tmp_path, task, config, tables=None):
    tables = tables if tables is not None else (
        {"capacity": data.cls_capacity(), "units": data.units(task)} if task == "classification"
        else {"capacity": data.seg_capacity(), "units": data.units(task)})
    return read_evaluation(data.write_evaluation(tmp_path / task, task, tables, config=config, images=False))


def test_small_run_lists_every_kind_of_departure(data, tmp_path):
    found = deviations([evaluation(data, tmp_path, "classification", data.SMALL_TASKS)], "phantom (simulated)")
    assert found[0].startswith("The images are phantom (simulated) acquisitions")
    text = "\n".join(found)
    assert ("classification: resnet18 trained from scratch because no ImageNet weights were supplied "
            "(tasks.classification.training.weights_uris)") in text
    assert "classification: capacity sweep over cnn1, resnet18; the study's ladder is cnn1, cnn3, resnet18, " \
           "resnet50, resnet101." in text
    assert ("classification: 60 of 72 (83%) trainings ran to their epoch cap without early stopping (patience 10); "
            "per network: resnet18 60 of 60 (100%) after 5 epochs; the study's networks all stopped early") in text
    assert "degenerate" not in text
    assert "classification: the capacity sweep trained on 500 images; the study's training split holds 10,000." \
        in text
    assert "classification: 120 test images; the study tested on 1,000." in text
    assert "learnable" not in text  # no learnable table: no learnable deviation


def test_the_study_settings_with_supplied_weights_show_no_departure(data, tmp_path):
    study = TasksConfig()
    units = data.units("classification").assign(train_items=10000, test_items=1000, stopped_early=True,
                                                ended="early_stop", weights="resnet18.pth sha256:ab")
    ladder = {"cnn1": 417, "cnn3": 24321, "resnet18": 11170753, "resnet50": 23503809, "resnet101": 42495937}
    capacity = data.cls_capacity()
    capacity = capacity[capacity["architecture"] == "cnn1"]
    capacity = pd.concat([capacity.assign(architecture=name, capacity=size)
                                            for name, size in ladder.items()])
    learnable = data.cls_learnable()
    learnable = pd.concat(
        [learnable[learnable["train_size"] == 10].assign(train_size=size, architecture="resnet101")
         for size in study.classification.learnable.sizes])
    found = deviations([evaluation(data, tmp_path, "classification", study,
                                   {"capacity": capacity, "learnable": learnable, "units": units})], "real")
    assert found == []


def test_learnable_and_training_settings_and_missing_modalities(data, tmp_path):
    config = data.SMALL_TASKS.model_copy(deep=True)
    config.segmentation.training.learning_rate = 1e-3
    config.segmentation.training.bf16 = True
    capacity = data.seg_capacity()
    tables = {"capacity": capacity[capacity["modality"] != "virtual_pix2pixhd"], "learnable": data.seg_learnable()}
    text = "\n".join(deviations([evaluation(data, tmp_path, "segmentation", config, tables)], "real"))
    assert ("segmentation: learnable-capacity sweep of unet3 on 10, 100 training images, 3 subset(s) each; the "
            "study: efficientunet7 on 100, 300, 1,000, 5,000, 10,000, 15,000, 3 subsets each.") in text
    assert "segmentation: training settings differ from the study's: learning_rate 0.001 (the study: 0.0001); " \
           "bf16 True (the study: False)." in text
    assert "segmentation: no virtual (Pix2pixHD) units" not in text  # learnable sweep has it
    tables["learnable"] = tables["learnable"][tables["learnable"]["modality"] != "virtual_pix2pixhd"]
    other = tmp_path / "other"
    text = "\n".join(deviations([evaluation(data, other, "segmentation", config, tables)], "real"))
    assert "segmentation: no virtual (Pix2pixHD) units; the figures show only the modalities evaluated." in text
    assert "phantom" not in text and "ImageNet" not in text  # unet1/unet3 start from scratch in the study too


def test_degenerate_trainings_are_reported_with_their_share(data, tmp_path):
    units = data.units("classification")
    cnn1 = units.index[units["architecture"] == "cnn1"]
    units.loc[cnn1[:3], "ended"] = "degenerate_retrained"
    units.loc[cnn1[:3], "attempts"] = 2
    units.loc[cnn1[5], "degenerate"] = "constant output (validation probabilities vary by 0.0009)"
    tables = {"capacity": data.cls_capacity(), "units": units}
    text = "\n".join(deviations([evaluation(data, tmp_path, "classification", data.SMALL_TASKS, tables)], "real"))
    assert ("classification: 3 of 72 (4%) trainings were degenerate (e.g. a constant output) and retrained with a "
            "fresh seed (per network: cnn1 3 of 12 (25%)); the study reports no such retraining.") in text
    assert ("classification: 1 of 72 (1%) trainings are still degenerate after their last attempt and enter the "
            "statistics as they are (per network: cnn1 1 of 12 (8%); e.g. "
            "classification-cnn1-virtual_effunet-all-s0-r1 (abcdef01): constant output (validation probabilities "
            "vary by 0.0009)).") in text


def test_an_unknown_ending_is_refused(data, tmp_path):
    units = data.units("classification").assign(ended="stopped")
    with pytest.raises(InputDataError, match=r"units.csv: ended 'stopped' in 72 row\(s\); expected one of early_stop, "
                                             r"epoch_cap, degenerate_retrained"):
        deviations([evaluation(data, tmp_path, "classification", data.SMALL_TASKS,
                               {"capacity": data.cls_capacity(), "units": units})], "real")


def test_an_unreadable_configuration_is_refused(data, tmp_path):
    folder = data.write_evaluation(tmp_path / "c", "classification", {"capacity": data.cls_capacity()})
    manifest = EvaluationManifest(stage="evaluate", config={"classification": {"architectures": ["vgg"]}},
                                  config_hash=config_hash(TasksConfig()), task="classification",
                                  paths={"tables": ["capacity.csv"]})
    write_manifest(manifest, folder)
    with pytest.raises(InputDataError, match=r"c manifest config: field 'classification"):
        deviations([read_evaluation(folder)], "real")


def test_stainers_trained_otherwise_than_the_study_are_named(data, tmp_path):
    from stainworth.contracts.stainer import StainConfig
    from stainworth.report.inputs import read_stain_quality

    config = StainConfig.model_validate({
        "training": {"patience": 10, "min_improvement": 0.02, "efficientunet": {"learning_rate": 0.001},
                     "pix2pixhd": {"norm": "batch", "lambda_l1": 100, "upsample": "resize"}},
        "training_by_dataset": {"segmentation": {"efficientunet": {"norm": "group"}},
                                "classification": {"efficientunet": {"padding": "zeros"}}}})
    qualities = [read_stain_quality(data.write_stain_report(tmp_path / kind, kind,
                                                           training=config.training_for(kind).model_dump(mode="json")),
                                   kind) for kind in ("segmentation", "classification")]
    found = deviations([], "real", qualities)
    assert found == [
        "segmentation stainers: EfficientUNet encoder efficientnet-b0 (study: efficientnet-b7); EfficientUNet "
        "learning rate 0.001 (study: 0.0003); EfficientUNet group normalisation (study: batch); EfficientUNet's "
        "one-sided paddings filled with the image's content (study: an off-the-shelf network, zeros); Pix2pixHD batch "
        "normalisation (study: instance); Pix2pixHD resize upsampling (study: transposed convolutions); Pix2pixHD "
        "with an L1 term of weight 100 beside the study's Eq. 1; early "
        "stopping after 10 epochs without a 2% lower validation loss (study: 10 epochs without a lower one).",
        "classification stainers: EfficientUNet encoder efficientnet-b0 (study: efficientnet-b7); EfficientUNet "
        "learning rate 0.001 (study: 0.0003); Pix2pixHD batch normalisation (study: instance); Pix2pixHD resize "
        "upsampling (study: transposed convolutions); Pix2pixHD with an L1 term of weight 100 beside the study's "
        "Eq. 1; early stopping after 10 epochs without a 2% lower validation loss (study: 10 epochs without a "
        "lower one)."]
    study = StainerTrainConfig(efficientunet={"encoder": "efficientnet-b7", "padding": "zeros"}).model_dump(mode="json")
    assert deviations([], "real", [read_stain_quality(data.write_stain_report(tmp_path / "s", "segmentation",
                                                                            training=study), "segmentation")]) == []
    older = read_stain_quality(data.write_stain_report(tmp_path / "old", "segmentation"), "segmentation")
    assert deviations([], "real", [older]) == []  # nothing recorded: nothing claimed

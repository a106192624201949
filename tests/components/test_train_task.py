"""The train_task component body, called directly (no KFP runtime): parameters in, unit folder and metadata out."""

import pytest
from kfp import dsl

from stainworth.components.train_task import train_task
from stainworth.contracts.task import TasksConfig
from stainworth.tasks import capacity

CONFIG = TasksConfig.model_validate({
    "segmentation": {"architectures": ["unet1"], "learnable": {"architecture": "unet1", "sizes": [8]},
                     "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}},
    "classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [6]},
                       "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}},
}).model_dump(mode="json")
NAME = "classification-cnn1-fluorescence-6-s0-r0"


def call(phantom_datasets, tmp_path, **overrides):
    unit = dsl.Model(name="unit", uri=str(tmp_path / "unit"))
    metrics, roc = dsl.Metrics(name="metrics"), dsl.ClassificationMetrics(name="roc")
    entry = {"architecture": "cnn1", "modality": "fluorescence", "train_size": 6.0, "subset": 0.0, "replicate": 0.0,
             "position": "run 1/1"} | overrides.pop("entry", {})  # kfp.local passes a dict's ints as floats
    item = {"units": [entry]} | overrides.pop("item", {})
    arguments = {"config": CONFIG, "task": "classification", "item": item, "store_uri": f"file://{tmp_path}/store",
                 "datasets": dsl.Dataset(name="datasets", uri=str(phantom_datasets)),
                 "virtual_effunet": dsl.Dataset(name="v1", uri=str(phantom_datasets)),
                 "virtual_pix2pixhd": dsl.Dataset(name="v2", uri=str(phantom_datasets)), "unit": unit,
                 "metrics": metrics, "roc": roc} | overrides
    train_task.python_func(**arguments)
    return unit, metrics, roc


def test_the_component_trains_a_unit_and_copies_the_manifest_summary(phantom_datasets, tmp_path, capsys):
    unit, metrics, roc = call(phantom_datasets, tmp_path)
    assert (tmp_path / "unit" / "manifest.json").is_file() and (tmp_path / "unit" / NAME / "scores.csv").is_file()
    assert unit.metadata["stage"] == "train_task" and list(unit.metadata["input_hashes"]) == [NAME]
    assert "train_task run 1/1 cnn1 fluorescence n=6 subset 0 replicate 1/3 epoch 1/1" in capsys.readouterr().out


def test_a_local_item_trains_several_units_and_names_their_dashboard_metrics(phantom_datasets, tmp_path):
    entries = [{"architecture": "cnn1", "modality": "fluorescence", "train_size": 6, "replicate": replicate,
                "position": f"run {replicate + 1}/2"} for replicate in (0, 1)]
    unit, metrics, _ = call(phantom_datasets, tmp_path, item={"units": entries})
    names = [f"classification-cnn1-fluorescence-6-s0-r{replicate}" for replicate in (0, 1)]
    assert list(unit.metadata["input_hashes"]) == names and unit.metadata["counts"] == {"units": 2}
    assert {f"{name}.test.auc" for name in names} <= set(metrics.metadata)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"entry": {"modality": "dapi"}}, "train_task item: field 'units.0.modality'"),
    ({"entry": {"architecture": "resnet7"}}, "architecture 'resnet7' is neither in the classification ladder"),
    ({"entry": {"train_size": 6.5}}, "train_task item: field 'units.0.train_size'"),
    ({"entry": {"replicate": -1}}, "train_task item: field 'units.0.replicate'"),
    ({"item": {"units": []}}, "train_task item: field 'units': List should have at least 1 item"),
    ({"config": CONFIG | {"threshold": 2}}, "tasks config: field 'threshold'"),
])
def test_bad_parameters_end_the_task_with_one_line_and_nothing_written(phantom_datasets, tmp_path, capsys,
                                                                      overrides, message):
    with pytest.raises(SystemExit) as ended:
        call(phantom_datasets, tmp_path, **overrides)
    assert ended.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "unit" / "manifest.json").exists()


def test_the_dashboard_gets_the_unit_metrics_and_a_classifier_roc(phantom_datasets, tmp_path):
    import pandas as pd

    from stainworth.metrics import empirical_auc

    unit, metrics, roc = call(phantom_datasets, tmp_path)
    scores = pd.read_csv(tmp_path / "unit" / NAME / "scores.csv")
    assert metrics.metadata["test.auc"] == pytest.approx(empirical_auc(scores["score"], scores["label"]).auc)
    assert metrics.metadata["trainable_parameters"] == capacity("cnn1")
    curve = roc.metadata["confidenceMetrics"]
    assert (curve[0]["falsePositiveRate"], curve[-1]["recall"]) == (0.0, 1.0)
    matrix = roc.metadata["confusionMatrix"]
    assert sum(sum(row["row"]) for row in matrix["rows"]) == len(scores)


def test_segmentation_units_log_metrics_and_no_roc(phantom_datasets, tmp_path):
    _, metrics, roc = call(phantom_datasets, tmp_path, task="segmentation",
                           entry={"architecture": "unet1", "train_size": 8})
    assert 0 <= metrics.metadata["test.dice"] <= 1 and roc.metadata == {}

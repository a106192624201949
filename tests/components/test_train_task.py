"""The train_task component body, called directly (no KFP runtime): parameters in, unit folder and metadata out."""

import pytest
from kfp import dsl

from stainworth.components.train_task import train_task
from stainworth.contracts.task import TasksConfig

CONFIG = TasksConfig.model_validate({
    "segmentation": {"architectures": ["unet1"], "learnable": {"architecture": "unet1", "sizes": [8]},
                     "training": {"batch_size": 4, "max_epochs": 1}},
    "classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [6]},
                       "training": {"batch_size": 4, "max_epochs": 1}},
}).model_dump(mode="json")


def call(phantom_datasets, tmp_path, **overrides):
    unit = dsl.Model(name="unit", uri=str(tmp_path / "unit"))
    arguments = {"config": CONFIG, "task": "classification", "architecture": "cnn1", "modality": "fluorescence",
                 "train_size": 6, "subset": 0, "store_uri": f"file://{tmp_path}/store", "position": "run 1/1",
                 "datasets": dsl.Dataset(name="datasets", uri=str(phantom_datasets)),
                 "virtual_effunet": dsl.Dataset(name="v1", uri=str(phantom_datasets)),
                 "virtual_pix2pixhd": dsl.Dataset(name="v2", uri=str(phantom_datasets)), "unit": unit} | overrides
    train_task.python_func(**arguments)
    return unit


def test_the_component_trains_a_unit_and_copies_the_manifest_summary(phantom_datasets, tmp_path, capsys):
    unit = call(phantom_datasets, tmp_path)
    assert (tmp_path / "unit" / "manifest.json").is_file() and (tmp_path / "unit" / "scores.csv").is_file()
    assert unit.metadata["stage"] == "train_task" and unit.metadata["counts"]["train_items"] == 6
    assert "train_task run 1/1 cnn1 fluorescence n=6 subset 0 epoch 1/1" in capsys.readouterr().out


@pytest.mark.parametrize(("overrides", "message"), [
    ({"modality": "dapi"}, "train_task unit: field 'modality'"),
    ({"architecture": "resnet7"}, "architecture 'resnet7' is not in the classification ladder"),
    ({"config": CONFIG | {"threshold": 2}}, "tasks config: field 'threshold'"),
])
def test_bad_parameters_end_the_task_with_one_line_and_nothing_written(phantom_datasets, tmp_path, capsys,
                                                                      overrides, message):
    with pytest.raises(SystemExit) as ended:
        call(phantom_datasets, tmp_path, **overrides)
    assert ended.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "unit" / "manifest.json").exists()

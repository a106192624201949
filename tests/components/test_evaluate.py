"""The evaluate component body, called directly: collected unit artifacts in, evaluation folder and metadata out."""

import pytest
from kfp import dsl

from stainworth.components.evaluate import evaluate
from stainworth.components.train_task import train_task
from stainworth.contracts.task import TasksConfig

CONFIG = TasksConfig.model_validate({
    "segmentation": {"architectures": ["unet1"], "learnable": {"architecture": "unet1", "sizes": [8]},
                     "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}},
    "classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [6]},
                       "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}},
}).model_dump(mode="json")


@pytest.fixture(scope="module")
def units(phantom_datasets, tmp_path_factory):
    root = tmp_path_factory.mktemp("component-units")
    data = dsl.Dataset(name="datasets", uri=str(phantom_datasets))
    made = []
    for modality in ("label_free", "fluorescence"):  # one task output per modality, two trainings each
        unit = dsl.Model(name="unit", uri=str(root / modality))
        entries = [{"architecture": "cnn1", "modality": modality, "subset": 0, "replicate": r,
                    "position": ""} for r in (0, 1)]
        train_task.python_func(config=CONFIG, task="classification", item={"units": entries},
                               store_uri=f"file://{root}/store", datasets=data,
                               virtual_effunet=data, virtual_pix2pixhd=data, unit=unit,
                               metrics=dsl.Metrics(name="metrics"), roc=dsl.ClassificationMetrics(name="roc"))
        made.append(unit)
    return made, data


def test_the_component_evaluates_collected_units(units, tmp_path):
    made, data = units
    out = dsl.Artifact(name="evaluation", uri=str(tmp_path / "evaluation"))
    evaluate.python_func(config=CONFIG, task="classification", units=made, datasets=data, virtual_effunet=data,
                         virtual_pix2pixhd=data, evaluation=out)
    assert (tmp_path / "evaluation" / "capacity.csv").is_file() and out.metadata["stage"] == "evaluate"
    assert out.metadata["counts"]["units"] == 4
    assert (tmp_path / "evaluation" / "verdict.md").read_text().startswith("- ")


def test_units_of_the_other_task_end_with_one_line(units, tmp_path, capsys):
    made, data = units
    out = dsl.Artifact(name="evaluation", uri=str(tmp_path / "evaluation"))
    with pytest.raises(SystemExit) as ended:
        evaluate.python_func(config=CONFIG, task="segmentation", units=made, datasets=data, virtual_effunet=data,
                             virtual_pix2pixhd=data, evaluation=out)
    assert ended.value.code == 2
    assert "the units are classification units; expected segmentation" in capsys.readouterr().err

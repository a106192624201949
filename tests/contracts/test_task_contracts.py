import pytest

from stainworth.contracts.base import validate_model
from stainworth.contracts.task import (
    LADDERS,
    TASKS,
    SweepItem,
    TasksConfig,
    TaskUnit,
    architecture_slug,
    network_source,
)
from stainworth.errors import ConfigError
from stainworth.tasks import ladder


@pytest.mark.parametrize("task", TASKS)
def test_the_contract_ladders_are_the_registry_ladders(task):
    assert LADDERS[task] == ladder(task)


def test_defaults_are_the_study_sweeps():
    config = TasksConfig()
    assert config.segmentation.learnable.sizes == [100, 300, 1000, 5000, 10000, 15000]
    assert config.classification.learnable.sizes == [100, 500, 1000, 5000, 8000, 10000]
    assert config.segmentation.learnable.architecture == "efficientunet7"
    assert config.classification.learnable.architecture == "resnet101"
    assert (config.segmentation.training.batch_size, config.classification.training.batch_size) == (4, 16)
    assert config.sweep("classification").architectures == list(LADDERS["classification"])


@pytest.mark.parametrize(("data", "message"), [
    ({"segmentation": {"architectures": ["resnet18"], "learnable": {"architecture": "unet1", "sizes": [4]},
                       "training": {}}},
     r"tasks.segmentation.architectures\[0\]: 'resnet18' is neither in the segmentation ladder"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [8, 4]},
                         "training": {}}},
     r"field 'classification.learnable.sizes': .*sizes \[8, 4\]: expected distinct increasing sizes"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"weights_uris": {"unet1": "w.pt"}}}},
     r"tasks.classification.training.weights_uris\[unet1\]: 'unet1' is neither in the classification ladder"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"max_epochs_by_architecture": {"unet2": 3}}}},
     r"max_epochs_by_architecture\[unet2\]: 'unet2' is neither in the classification ladder"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"max_epochs_by_architecture": {"cnn1": 0}}}},
     r"max_epochs_by_architecture \{'cnn1': 0\}: expected caps from 1 to 10000"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"patience_by_architecture": {"cnn1": 0}}}},
     r"patience_by_architecture \{'cnn1': 0\}: expected values from 1 to 10000"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"learning_rate_by_architecture": {"cnn1": 2}}}},
     r"learning_rate_by_architecture \{'cnn1': 2.0\}: expected rates in \(0, 1\]"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"plateau_patience_by_architecture": {"cnn1": 0}}}},
     r"plateau_patience_by_architecture \{'cnn1': 0\}: expected values from 1 to 10000"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"plateau_patience_by_architecture": {"unet1": 2}}}},
     r"plateau_patience_by_architecture\[unet1\]: 'unet1' is neither in the classification ladder"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"min_improvement": 1.0}}},
     r"min_improvement"),
    ({"classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4]},
                         "training": {"patience_by_architecture": {"resnet7": 3}}}},
     r"patience_by_architecture\[resnet7\]: 'resnet7' is neither in the classification ladder"),
    ({"threshold": 1.0}, r"field 'threshold'"),
])
def test_bad_sweeps_are_refused_with_the_field_and_value(data, message):
    with pytest.raises(ConfigError, match=message):
        validate_model(TasksConfig, data, where="tasks")


def test_unit_names_are_unique_and_readable():
    units = {TaskUnit(task="classification", architecture="cnn1", modality=m, train_size=s, subset=k,
                      replicate=r).name
             for m in ("label_free", "fluorescence") for s in (None, 100) for k in (0, 1) for r in (0, 2)}
    assert len(units) == 16
    assert "classification-cnn1-label_free-all-s0-r0" in units
    assert "classification-cnn1-fluorescence-100-s1-r2" in units


def test_learnable_replicates_default_to_the_tasks_and_need_two_trainings_per_size():
    sweep = {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [4], "subsets": 3},
             "training": {}, "replicates": 3}
    tasks = TasksConfig.model_validate({"classification": sweep})
    assert tasks.learnable_replicates("classification") == 3
    sweep["learnable"]["replicates"] = 1
    assert TasksConfig.model_validate({"classification": sweep}).learnable_replicates("classification") == 1
    sweep["learnable"]["subsets"] = 1
    with pytest.raises(ConfigError, match=r"subsets 1 x replicates 1: expected at least two trainings"):
        validate_model(TasksConfig, {"classification": sweep}, where="tasks")
    sweep["learnable"]["subsets"] = 3
    with pytest.raises(ConfigError, match=r"field 'classification.replicates'"):
        validate_model(TasksConfig, {"classification": sweep | {"replicates": 1}}, where="tasks")


def test_an_architecture_cap_overrides_max_epochs_for_that_architecture_only():
    training = TasksConfig.model_validate({"classification": {
        "architectures": ["cnn1", "resnet101"], "learnable": {"architecture": "cnn1", "sizes": [4]},
        "training": {"max_epochs": 30, "max_epochs_by_architecture": {"resnet101": 5}}}}).classification.training
    assert (training.epochs_for("resnet101"), training.epochs_for("cnn1")) == (5, 30)


def test_per_architecture_settings_override_the_sweep_values_for_that_architecture_only():
    training = TasksConfig.model_validate({"segmentation": {
        "architectures": ["unet1", "efficientunet0"], "learnable": {"architecture": "unet1", "sizes": [4]},
        "training": {"learning_rate": 3e-3, "patience": 6, "plateau_patience": 3,
                     "learning_rate_by_architecture": {"efficientunet0": 2e-3},
                     "patience_by_architecture": {"efficientunet0": 4},
                     "plateau_patience_by_architecture": {"efficientunet0": 2}}}}).segmentation.training
    assert [(training.learning_rate_for(a), training.patience_for(a), training.plateau_patience_for(a))
            for a in ("unet1", "efficientunet0")] == [(3e-3, 6, 3), (2e-3, 4, 2)]


def test_a_sweep_item_from_the_pipeline_becomes_its_units_in_order():
    from stainworth.pipelines.sweeps import sweep_units
    from stainworth.profiles import load_profile

    tasks = load_profile("mini").tasks.model_copy(update={"grouping": "slots"})
    for raw in sweep_units(tasks, "segmentation", ["capacity", "learnable"]):
        item = validate_model(SweepItem, raw, where="item")
        units = item.task_units("segmentation")
        assert [unit.train_size for unit in units] == [entry.get("train_size") for entry in raw["units"]]
        assert item.positions == [entry["position"] for entry in raw["units"]]
        assert any(unit.train_size is None for unit in units) and any(unit.train_size for unit in units)
    floats = {"units": [{"architecture": "unet1", "modality": "label_free", "train_size": 25.0, "subset": 1.0,
                         "replicate": 2.0}]}  # kfp.local hands ints back as floats
    assert validate_model(SweepItem, floats, where="item").task_units("segmentation")[0].name == \
        "segmentation-unet1-label_free-25-s1-r2"


@pytest.mark.parametrize("raw, message", [
    ({"units": []}, r"train_task item: field 'units'"),
    ({"units": [{"architecture": "unet1", "modality": "phase"}]}, r"field 'units.0.modality'"),
    ({"units": [{"architecture": "unet1", "modality": "label_free", "train_size": 0}]}, r"field 'units.0.train_size'"),
])
def test_a_bad_sweep_item_is_one_line_naming_the_field(raw, message):
    with pytest.raises(ConfigError, match=message):
        validate_model(SweepItem, raw, where="train_task item")


def test_a_sweep_item_with_another_tasks_network_names_the_entry():
    item = SweepItem.model_validate({"units": [{"architecture": "unet1", "modality": "label_free"},
                                               {"architecture": "resnet18", "modality": "label_free"}]})
    with pytest.raises(ConfigError, match=r"sweep item unit 2: .*'resnet18' is neither in the segmentation ladder"):
        item.task_units("segmentation")


OWN = {"classification": ["cnn1", "timm:convnext_nano", "py:my_lab.nets:small_cnn"],
       "segmentation": ["unet1", "smp:Unet/resnet34", "smp:UnetPlusPlus/efficientnet-b0", "py:my_lab.nets:small_unet"]}


def test_networks_of_your_own_are_accepted_by_name_in_every_per_architecture_setting():
    data = {task: {"architectures": names, "learnable": {"architecture": names[1], "sizes": [4]},
                   "training": {key: {names[1]: value} for key, value in (
                       ("learning_rate_by_architecture", 1e-3), ("max_epochs_by_architecture", 5),
                       ("patience_by_architecture", 3), ("plateau_patience_by_architecture", 2),
                       ("weights_uris", "s3://bucket/w.safetensors"))}}
            for task, names in OWN.items()}
    tasks = validate_model(TasksConfig, data, where="tasks")
    assert tasks.classification.training.learning_rate_for("timm:convnext_nano") == 1e-3
    assert tasks.segmentation.training.epochs_for("smp:Unet/resnet34") == 5
    assert [network_source(name) for name in OWN["segmentation"]] == ["builtin", "user", "user", "user"]


def test_a_unit_of_your_own_network_has_a_name_safe_in_keys_files_and_loop_items():
    unit = TaskUnit(task="segmentation", architecture="smp:UnetPlusPlus/efficientnet-b0", modality="label_free",
                    replicate=1)
    assert unit.name == "segmentation-smp_UnetPlusPlus_efficientnet_b0-label_free-all-s0-r1"
    assert architecture_slug("py:my_lab.nets:small_cnn") == "py_my_lab.nets_small_cnn"
    assert all(architecture_slug(name) == name for names in LADDERS.values() for name in names)
    assert SweepItem.model_validate({"units": [{"architecture": "timm:convnext_nano", "modality": "label_free"}]}
                                    ).task_units("classification")[0].architecture == "timm:convnext_nano"


@pytest.mark.parametrize(("task", "names", "message"), [
    ("classification", ["cnn1", "timm:"], r"tasks.classification.architectures\[1\]: 'timm:' is not of the form "
                                          r"timm:<model>"),
    ("segmentation", ["unet1", "smp:Unet"], r"architectures\[1\]: 'smp:Unet' is not of the form smp:<Arch>/<encoder>"),
    ("segmentation", ["py:my_lab.nets"], r"architectures\[0\]: 'py:my_lab.nets' is not of the form "
                                         r"py:<module>:<function>"),
    ("segmentation", ["unet1", "timm:convnext_nano"], r"timm: networks do classification only; segmentation takes "
                                                      r"the segmentation ladder .* or smp:<Arch>/<encoder> or py:"),
    ("classification", ["smp:Unet/resnet34"], r"smp: networks do segmentation only"),
    ("segmentation", ["smp:Unet/tu_resnet18", "smp:Unet/tu-resnet18"], r"'smp:Unet/tu_resnet18' and "
                                                                       r"'smp:Unet/tu-resnet18' both become "
                                                                       r"'smp_Unet_tu_resnet18'"),
    ("classification", ["cnn1", "torch:resnet"], r"'torch:resnet' is neither in the classification ladder .* nor a "
                                                 r"network of your own"),
])
def test_a_malformed_network_name_is_refused_in_one_line_naming_the_field(task, names, message):
    data = {task: {"architectures": names, "learnable": {"architecture": LADDERS[task][0], "sizes": [4]},
                   "training": {}}}
    with pytest.raises(ConfigError, match=message) as caught:
        validate_model(TasksConfig, data, where="tasks")
    assert "\n" not in str(caught.value)

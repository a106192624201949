"""train_task on the phantom datasets: unit folders, paired modalities, subsets, store, resume, determinism."""

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.task import (
    HISTORY_TABLE,
    MODEL_FILE,
    SCORES_TABLE,
    TaskGroupManifest,
    TaskRunManifest,
    TasksConfig,
    TaskUnit,
)
from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation.trained import load_units
from stainworth.stages.task import replicate_seed, train_task_stage, train_units_stage
from stainworth.store import open_store
from stainworth.tasks import build_task_net, capacity


def config(epochs=1):
    training = {"batch_size": 4, "max_epochs": epochs, "patience": 2, "max_attempts": 1}
    return TasksConfig.model_validate({
        "segmentation": {"architectures": ["unet1"], "learnable": {"architecture": "unet1", "sizes": [8]},
                         "training": training},
        "classification": {"architectures": ["cnn1"], "learnable": {"architecture": "cnn1", "sizes": [6], "subsets": 2},
                           "training": training},
    })


@pytest.fixture(scope="module")
def virtual_dirs(phantom_datasets, tmp_path_factory):
    """Stand-ins for apply_stainer outputs: copies of the real datasets (same items, same layout)."""
    root = tmp_path_factory.mktemp("virtual")
    dirs = {}
    for modality in ("virtual_effunet", "virtual_pix2pixhd"):
        shutil.copytree(phantom_datasets, root / modality)
        dirs[modality] = root / modality
    return dirs


def unit(task="classification", modality="label_free", **kwargs):
    architecture = "cnn1" if task == "classification" else "unet1"
    return TaskUnit(task=task, architecture=architecture, modality=modality, **kwargs)


def test_a_capacity_unit_writes_model_scores_history_and_is_published(phantom_datasets, tmp_path):
    store = f"file://{tmp_path}/store"
    manifest = train_task_stage(config(), unit(), phantom_datasets, tmp_path / "out", store_uri=store)
    assert (tmp_path / "out" / MODEL_FILE).is_file() and (tmp_path / "out" / HISTORY_TABLE).is_file()
    scores = pd.read_csv(tmp_path / "out" / SCORES_TABLE)
    assert list(scores.columns) == ["item", "label", "score"] and list(scores["item"]) == list(range(6))
    assert scores["score"].between(0, 1).all() and set(scores["label"]) == {0, 1}
    assert manifest.trainable_parameters == capacity("cnn1") and manifest.counts["train_items"] == 20
    assert manifest.weights == "none (trained from scratch)" and 0 <= manifest.metrics["test.auc"] <= 1
    assert 0 <= manifest.metrics["data_wait_share"] < 1
    assert read_manifest(TaskRunManifest, tmp_path / "out").unit == unit()
    keys = open_store(store).list("tasks/units/")
    assert f"tasks/units/classification-cnn1-label_free-all-s0-r0-{manifest.content_hash[:12]}/scores.csv" in keys
    assert manifest.ended in ("early_stop", "epoch_cap") and manifest.attempts == 1


def test_modalities_of_a_unit_train_on_the_same_subset_and_test_on_the_same_items(phantom_datasets, virtual_dirs,
                                                                                  tmp_path):
    tables = {}
    for modality in ("label_free", "virtual_effunet", "fluorescence"):
        out = tmp_path / modality
        manifest = train_task_stage(config(), unit(modality=modality, train_size=6, subset=1), phantom_datasets,
                                    out, virtual_dirs=virtual_dirs, store_uri=f"file://{tmp_path}/store")
        assert manifest.counts["train_items"] == 6
        tables[modality] = pd.read_csv(out / SCORES_TABLE)
    items = {modality: tuple(table["item"]) for modality, table in tables.items()}
    assert len(set(items.values())) == 1
    assert not tables["label_free"]["score"].equals(tables["fluorescence"]["score"])


def test_a_segmentation_unit_scores_every_test_image(phantom_datasets, tmp_path):
    manifest = train_task_stage(config(), unit("segmentation"), phantom_datasets, tmp_path / "seg",
                                store_uri=f"file://{tmp_path}/store")
    scores = pd.read_csv(tmp_path / "seg" / SCORES_TABLE)
    assert list(scores.columns) == ["item", "precision", "recall", "dice", "ap50", "ap", "count_error"]
    assert len(scores) == 8 and scores["count_error"].dtype == np.int64
    assert manifest.metrics["test.ap"] == pytest.approx(scores["ap"].mean()) and 0 <= manifest.metrics["test.ap"] <= 1
    assert (scores["ap"] <= scores["ap50"]).all()
    assert manifest.metrics["test.dice"] == pytest.approx(scores["dice"].mean())
    assert manifest.trainable_parameters == capacity("unet1")


def test_the_same_unit_twice_gives_the_same_scores(phantom_datasets, tmp_path):
    for name in ("a", "b"):
        train_task_stage(config(), unit(train_size=6), phantom_datasets, tmp_path / name,
                         store_uri=f"file://{tmp_path}/store-{name}")
    assert (tmp_path / "a" / SCORES_TABLE).read_bytes() == (tmp_path / "b" / SCORES_TABLE).read_bytes()


def test_a_retried_unit_resumes_from_the_checkpoints_in_the_store(phantom_datasets, tmp_path, capsys):
    store = f"file://{tmp_path}/store"
    train_task_stage(config(epochs=1), unit(), phantom_datasets, tmp_path / "first", store_uri=store)
    capsys.readouterr()
    manifest = train_task_stage(config(epochs=2), unit(), phantom_datasets, tmp_path / "again", store_uri=store)
    out = capsys.readouterr().out
    assert "checkpoints of an earlier attempt restored" in out and "resuming after epoch 1" in out
    assert "epoch 1/2" not in out and "epoch 2/2" in out and manifest.counts["epochs_run"] == 2


def test_a_unit_that_stopped_early_keeps_only_its_state_in_the_store_and_a_rerun_rescores_it(phantom_datasets,
                                                                                              tmp_path, capsys):
    store = f"file://{tmp_path}/store"
    stopping = config(epochs=40)
    stopping.classification.training.learning_rate = 1e-12  # no improvement after epoch 1: stops at epoch 3
    first = train_task_stage(stopping, unit(), phantom_datasets, tmp_path / "first", store_uri=store)
    assert first.stopped_early and first.ended == "early_stop"
    kept = [key for key in open_store(store).list("tasks/checkpoints/") if key.endswith("checkpoint.pt")]
    assert len(kept) == 1
    assert set(torch.load(open_store(store).root / kept[0], weights_only=True)) == {"state"}
    capsys.readouterr()
    again = train_task_stage(stopping, unit(), phantom_datasets, tmp_path / "again", store_uri=store)
    out = capsys.readouterr().out
    assert "resuming after epoch 3" in out and " epoch 1/40" not in out
    assert again.content_hash == first.content_hash
    assert (tmp_path / "again" / SCORES_TABLE).read_bytes() == (tmp_path / "first" / SCORES_TABLE).read_bytes()


@pytest.mark.parametrize(("bad", "virtual", "message"), [
    (unit(modality="virtual_pix2pixhd"), False, "no virtual_pix2pixhd dataset given"),
    (unit(train_size=6, subset=2), False, r"subset 2; the sweep draws 2 subsets per size \(0\.\.1\)"),
    (unit(train_size=30), False, "larger than the pool"),
])
def test_bad_units_are_refused_with_one_line(phantom_datasets, tmp_path, bad, virtual, message):
    with pytest.raises(InputDataError, match=message):
        train_task_stage(config(), bad, phantom_datasets, tmp_path / "bad", store_uri=f"file://{tmp_path}/store")


def test_a_validation_limit_keeps_both_classes(phantom_datasets, tmp_path):
    limited = config()
    limited.classification.training.max_val_items = 4
    manifest = train_task_stage(limited, unit(), phantom_datasets, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert manifest.counts["val_items"] == 4


def test_an_architecture_cap_limits_the_epochs_of_that_unit(phantom_datasets, tmp_path):
    capped = config(epochs=3)
    capped.classification.training.max_epochs_by_architecture = {"cnn1": 1}
    capped.classification.training.patience = 5
    manifest = train_task_stage(capped, unit(), phantom_datasets, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert len(pd.read_csv(tmp_path / "out" / HISTORY_TABLE)) == 1 and manifest.best_epoch == 1


def test_a_unit_records_its_device_and_refuses_a_missing_gpu_before_writing(phantom_datasets, tmp_path, monkeypatch):
    manifest = train_task_stage(config(), unit(), phantom_datasets, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert manifest.device == "cpu" and manifest.config["classification"]["training"]["device"] == "auto"
    gpu = config()
    gpu.classification.training.device = "cuda"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ConfigError, match="device 'cuda'"):
        train_task_stage(gpu, unit(), phantom_datasets, tmp_path / "gpu", store_uri=f"file://{tmp_path}/s")
    assert not (tmp_path / "gpu").exists()


def test_replicates_share_the_items_and_differ_in_initialisation(phantom_datasets, tmp_path):
    tables, seeds = {}, {}
    for replicate in (0, 1):
        manifest = train_task_stage(config(), unit(replicate=replicate), phantom_datasets, tmp_path / str(replicate),
                                    store_uri=f"file://{tmp_path}/store")
        tables[replicate], seeds[replicate] = pd.read_csv(tmp_path / str(replicate) / SCORES_TABLE), manifest.init_seed
    assert list(tables[0]["item"]) == list(tables[1]["item"]) and seeds[0] != seeds[1]
    assert not tables[0]["score"].equals(tables[1]["score"])
    assert seeds[0] == replicate_seed(0, unit(modality="fluorescence"))  # the modalities of a unit share the seed


def test_a_group_trains_every_unit_into_its_folder_and_writes_its_manifest_last(phantom_datasets, virtual_dirs,
                                                                               tmp_path, capsys):
    units = [unit(modality=modality, replicate=replicate) for modality in ("label_free", "virtual_effunet")
             for replicate in (0, 1)]
    group = train_units_stage(config(), units, phantom_datasets, tmp_path / "group", virtual_dirs=virtual_dirs,
                              store_uri=f"file://{tmp_path}/store", positions=["run 1/4", "run 2/4"])
    assert group.units == [u.name for u in units]
    assert read_manifest(TaskGroupManifest, tmp_path / "group").counts == {"units": 4}
    loaded = load_units(tmp_path / "group")
    assert [(u.manifest.unit.modality, u.scores.replicate) for u in loaded] == [
        ("label_free", 0), ("label_free", 1), ("virtual_effunet", 0), ("virtual_effunet", 1)]
    out = capsys.readouterr().out
    assert "train_task run 1/4 cnn1 label_free n=20 replicate 1/3" in out and "run 2/4" in out
    with pytest.raises(InputDataError, match="expected distinct units of one task"):
        train_units_stage(config(), [unit(), unit()], phantom_datasets, tmp_path / "twice")


def test_a_degenerate_training_is_retrained_with_a_fresh_seed_and_counted(phantom_datasets, tmp_path, capsys,
                                                                         monkeypatch):
    built = []

    def collapsed(name, **kwargs):  # a network whose output is the same for every input, as a collapsed one
        net = build_task_net(name, **kwargs)
        for parameter in net.parameters():
            torch.nn.init.zeros_(parameter)
        built.append(net)
        return net

    monkeypatch.setattr("stainworth.stages.task.build_task_net", collapsed)
    stuck = config(epochs=1)
    stuck.classification.training.max_attempts = 2
    manifest = train_task_stage(stuck, unit(), phantom_datasets, tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    out = capsys.readouterr().out
    assert "attempt 1 is degenerate: constant output" in out and "retraining with a fresh seed" in out
    assert "attempt 2 is degenerate" in out and "no attempt left, kept and flagged" in out
    assert manifest.ended == "degenerate_retrained" and manifest.attempts == 2 and len(built) == 2
    assert manifest.degenerate.startswith("constant output") and manifest.init_seed == replicate_seed(0, unit(), 1)


def test_a_network_of_your_own_is_probed_at_the_dataset_s_size_before_the_group_trains(phantom_datasets, tmp_path):
    own = "py:stainworth.tasks.examples:tiny_segmenter"  # a segmentation network named for classification
    tasks = config().model_dump()
    tasks["classification"]["architectures"] = ["cnn1", own]
    units = [TaskUnit(task="classification", architecture=name, modality="label_free") for name in ("cnn1", own)]
    with pytest.raises(ConfigError, match=r"^train_task classification-py_stainworth.tasks.examples_tiny_segmenter-"
                                          r"label_free-all-s0-r0: .* returns shape \(2, 1, 48, 48\) for a "
                                          r"\(2, 1, 48, 48\) input; classification needs"):
        train_units_stage(TasksConfig.model_validate(tasks), units, phantom_datasets, tmp_path / "out",
                          store_uri=f"file://{tmp_path}/store")
    assert not (tmp_path / "out").exists()  # not even cnn1, the first unit, trained
    good = "py:stainworth.tasks.examples:tiny_cnn"
    tasks["classification"]["architectures"] = [good]
    manifest = train_task_stage(TasksConfig.model_validate(tasks), unit(), phantom_datasets, tmp_path / "cnn1",
                                store_uri=f"file://{tmp_path}/store")
    mine = train_task_stage(TasksConfig.model_validate(tasks),
                            TaskUnit(task="classification", architecture=good, modality="label_free"),
                            phantom_datasets, tmp_path / "own", store_uri=f"file://{tmp_path}/store")
    assert mine.trainable_parameters == capacity(good, task="classification") != manifest.trainable_parameters
    assert load_units(tmp_path / "own")[0].network()(torch.zeros(2, 1, 48, 48)).shape == (2,)

"""Sweep items: one training per task on a cluster, half of all trainings per task locally."""

import pytest
from kfp.compiler.pipeline_spec_builder import to_protobuf_value

from stainworth.contracts.task import LADDERS
from stainworth.errors import ConfigError
from stainworth.launch.local import local_profile, run_local
from stainworth.pipelines import build_pipeline
from stainworth.pipelines.sweeps import LOCAL_SLOTS, capacity_ranks, sweep_units
from stainworth.profiles import load_profile


def test_a_cluster_run_gets_one_training_per_task_with_every_replicate():
    tasks = load_profile("mini").tasks
    items = sweep_units(tasks, "classification", ["capacity"])
    sweep = tasks.classification
    assert len(items) == len(sweep.architectures) * len(sweep.modalities) * sweep.replicates
    units = [item["units"][0] for item in items]
    assert all(len(item["units"]) == 1 for item in items)
    keys = {(u["architecture"], u["modality"], u["replicate"]) for u in units}
    assert len(keys) == len(units) and {u["replicate"] for u in units} == {0, 1, 2}
    assert [u["position"] for u in units] == [f"run {k}/{len(units)}" for k in range(1, len(units) + 1)]


def test_a_local_run_deals_every_training_to_the_runner_slots_largest_first():
    profile = local_profile(load_profile("mini"))
    assert profile.tasks.grouping == "slots"
    sweep = profile.tasks.segmentation
    items = sweep_units(profile.tasks, "segmentation", ["capacity", "learnable"])
    assert len(items) == LOCAL_SLOTS
    units = [unit for item in items for unit in item["units"]]
    assert len(units) == len({unit["position"] for unit in units}) == (
        len(sweep.architectures) * len(sweep.modalities) * sweep.replicates
        + len(sweep.learnable.sizes) * sweep.learnable.subsets * len(sweep.modalities))
    largest = sweep.architectures[-1]
    for item in items:
        assert item["units"][0]["architecture"] == largest and item["units"][0].get("train_size") is None  # whole split
        ladder = [(-LADDERS["segmentation"].index(u["architecture"]), -(u.get("train_size") or 1e9))
                  for u in item["units"]]
        assert ladder == sorted(ladder)
        for modality in sweep.modalities:  # every slot gets about half of each architecture's every modality
            for architecture in sweep.architectures:
                mine = sum(u["modality"] == modality and u["architecture"] == architecture
                           and u.get("train_size") is None for u in item["units"])
                assert abs(mine - sweep.replicates / LOCAL_SLOTS) <= 0.5
    for item in items:
        keys = [(u["architecture"], u.get("train_size"), u["subset"], u["modality"]) for u in item["units"]]
        assert all(key not in keys[k + 2:] for k, key in enumerate(keys) if keys[k + 1:k + 2] != [key])


def test_the_architecture_grouping_splits_each_architecture_over_the_runner_slots_largest_first():
    profile = load_profile("mini")
    tasks = profile.tasks.model_copy(update={"grouping": "architecture"})
    items = sweep_units(tasks, "classification", ["capacity"])
    sweep = profile.tasks.classification
    assert [item["units"][0]["architecture"] for item in items] == [
        name for name in reversed(sweep.architectures) for _ in range(LOCAL_SLOTS)]
    for first, second in zip(items[::2], items[1::2], strict=True):
        units = first["units"] + second["units"]
        assert len(units) == len(sweep.modalities) * sweep.replicates and len({u["architecture"] for u in units}) == 1
        assert {u["modality"] for u in first["units"]}.isdisjoint(u["modality"] for u in second["units"])
    for item in items:
        modalities = [u["modality"] for u in item["units"]]
        assert modalities == sorted(modalities, key=sweep.modalities.index)  # one modality's batches at a time


def test_a_learnable_sweep_groups_by_training_size_and_keeps_an_explicit_grouping():
    profile = load_profile("mini")
    tasks = profile.tasks.model_copy(update={"grouping": "unit"})
    assert local_profile(profile.model_copy(update={"tasks": tasks})).tasks.grouping == "unit"
    grouped = sweep_units(profile.tasks.model_copy(update={"grouping": "architecture"}), "segmentation", ["learnable"])
    learnable = profile.tasks.segmentation.learnable
    assert [item["units"][0].get("train_size") for item in grouped] == [
        size for size in sorted(learnable.sizes, reverse=True) for _ in range(LOCAL_SLOTS)]
    assert all(len(item["units"]) == learnable.subsets * 2 * learnable.replicates for item in grouped)


@pytest.mark.parametrize("grouping", ["unit", "architecture", "slots"])
def test_every_loop_item_is_a_value_kfp_can_carry(grouping):
    tasks = load_profile("mini").tasks.model_copy(update={"grouping": grouping})
    for task in ("segmentation", "classification"):
        for item in sweep_units(tasks, task, ["capacity", "learnable"]):
            to_protobuf_value(item)  # refuses a None (a null train_size stopped every local run)


def test_networks_of_your_own_are_dealt_by_trainable_parameters_and_checked_when_the_pipeline_is_built(tmp_path):
    profile = load_profile("smoke", ["tasks.classification.architectures=[cnn3, "
                                     "'py:stainworth.tasks.examples:tiny_cnn', 'timm:mobilenetv3_small_050', cnn1]",
                                     "tasks.grouping=architecture"])
    ranks = capacity_ranks("classification", profile.tasks.classification.architectures)
    assert sorted(ranks, key=ranks.get) == ["cnn1", "py:stainworth.tasks.examples:tiny_cnn", "cnn3",
                                            "timm:mobilenetv3_small_050"]
    items = sweep_units(profile.tasks, "classification", ["capacity"])
    assert [item["units"][0]["architecture"] for item in items][::LOCAL_SLOTS] == sorted(ranks, key=ranks.get,
                                                                                          reverse=True)
    for item in items:  # a name with ':' and '/' is a plain string in a loop item
        to_protobuf_value(item)
    assert capacity_ranks("segmentation", ["unet2", "unet1"]) == {"unet2": 1, "unet1": 0}  # no torch needed
    wrong = load_profile("smoke", ["tasks.classification.architectures=[cnn1, "
                                   "'py:stainworth.tasks.examples:tiny_segmenter']"])
    build_pipeline("seg_capacity", wrong)  # only the networks of the tasks a pipeline trains are checked
    with pytest.raises(ConfigError, match=r"^tasks.classification.architectures\[1\]: py:stainworth.tasks.examples:"
                                          r"tiny_segmenter returns shape \(2, 1, 64, 64\)"):
        build_pipeline("cls_capacity", wrong)
    with pytest.raises(ConfigError, match=r"tasks.classification.architectures\[1\]"):
        build_pipeline("retrain", wrong)  # its re-evaluation: retrain.evaluate, cls_capacity by default
    with pytest.raises(ConfigError, match=r"tasks.classification.architectures\[1\]"):
        run_local("study", wrong, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store", echo=False)
    assert not (tmp_path / "runs").exists()  # refused before any run folder, let alone a training

"""Sweep items: one training per task on a cluster, half of all trainings per task locally."""

import pytest
from kfp.compiler.pipeline_spec_builder import to_protobuf_value

from stainworth.contracts.task import LADDERS
from stainworth.launch.local import local_profile
from stainworth.pipelines.sweeps import LOCAL_SLOTS, sweep_units
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

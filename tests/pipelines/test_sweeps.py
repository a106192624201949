"""Sweep items: one training per task on a cluster, every training of one architecture per task locally."""

from stainworth.pipelines.sweeps import LOCAL_SLOTS, sweep_units
from stainworth.profiles import load_profile
from stainworth.runner.local import local_profile


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


def test_a_local_run_splits_each_architecture_over_the_runner_slots_largest_first():
    profile = local_profile(load_profile("mini"))
    assert profile.tasks.grouping == "architecture"
    items = sweep_units(profile.tasks, "classification", ["capacity"])
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
    grouped = sweep_units(local_profile(profile).tasks, "segmentation", ["learnable"])
    learnable = profile.tasks.segmentation.learnable
    assert [item["units"][0]["train_size"] for item in grouped] == [
        size for size in sorted(learnable.sizes, reverse=True) for _ in range(LOCAL_SLOTS)]
    assert all(len(item["units"]) == learnable.subsets * 2 * learnable.replicates for item in grouped)

"""make plan: units as the pipelines train them, network probes, costs a reader can check, bad input."""

import math

import pandas as pd
import pytest

from stainworth.cli import main
from stainworth.errors import ConfigError
from stainworth.pipelines.sweeps import sweep_units
from stainworth.plan.costs import GPUS, dealt_hours, unit_cost, wall_hours
from stainworth.plan.probe import ProbeResult, ProbeSpec, probe_in_child
from stainworth.plan.report import make_plan, pipeline_table, unit_table, write_plan
from stainworth.plan.units import planned_units
from stainworth.profiles import load_profile
from stainworth.runner.stage_probe import StageProbe


def fake_probe(spec):
    """Known figures: FLOPs proportional to the image area, memory to the batch."""
    return ProbeResult(parameters=1000, train_flops_per_item=3.0 * spec.size**2, forward_flops_per_item=spec.size**2,
                       peak_bytes=1e6 * spec.batch, device="test", seconds_per_step=0.0)


def test_the_plan_counts_every_training_the_pipelines_run():
    profile = load_profile("paper")
    tasks = profile.tasks.model_copy(update={"grouping": None})
    for pipeline, task, sweeps in (("seg_capacity", "segmentation", ("capacity",)),
                                   ("cls_learnable", "classification", ("learnable",))):
        units = planned_units(profile, pipeline)
        trained = [unit for item in sweep_units(tasks, task, sweeps) for unit in item["units"]]
        assert sum(unit.count for unit in units if unit.kind != "stainer") == len(trained)
        assert sorted((unit.dataset, unit.architecture) for unit in units if unit.kind == "stainer") == [
            (task, "efficientunet"), (task, "pix2pixhd")]
    study = planned_units(profile, "study")
    assert sum(unit.count for unit in study) == sum(
        unit.count for name in ("seg_capacity", "seg_learnable", "cls_capacity", "cls_learnable")
        for unit in planned_units(profile, name) if unit.kind != "stainer") + 4
    learnable = [unit for unit in planned_units(profile, "cls_learnable") if unit.kind == "learnable"]
    assert sorted(unit.train_items for unit in learnable) == sorted(profile.tasks.classification.learnable.sizes)


def test_unit_costs_follow_from_the_probe_and_the_unit():
    profile = load_profile("paper")
    unit = next(u for u in planned_units(profile, "cls_capacity") if u.architecture == "resnet101")
    probe = fake_probe(ProbeSpec("task", unit.architecture, unit.size, unit.batch, unit.bf16))
    cost = unit_cost(unit, probe)
    per_training = (3.0 * unit.size**2 * unit.train_items * unit.max_epochs
                    + unit.size**2 * (unit.val_items * unit.max_epochs + unit.predict_items))
    assert cost.flops == pytest.approx(unit.count * per_training)
    assert cost.steps_per_training == math.ceil(unit.train_items / unit.batch) * unit.max_epochs
    h100 = next(gpu for gpu in GPUS if gpu.name == "H100")
    assert cost.gpu_hours(h100, 0.5) == pytest.approx(cost.flops / (0.5 * 989e12) / 3600)
    assert cost.store_bytes == unit.count * 1000 * 4 * 4


def test_longest_first_dealing():
    assert dealt_hours([3.0, 2.0, 2.0, 1.0], 2) == 4.0
    assert dealt_hours([5.0, 1.0], 8) == 5.0 and dealt_hours([], 3) == 0.0
    assert dealt_hours([1.0] * 10, 1) == 10.0


def fake_stages(profile):
    """Known figures of the prepare stages: 1 GiB more per stage."""
    return {stage: StageProbe(stage, 1.0, (k + 1) * 2.0**30, {})
            for k, stage in enumerate(("ingest", "stitch", "register", "label", "extract"))}


def test_tables_and_files(tmp_path):
    plan = make_plan(load_profile("smoke"), ["cls_capacity", "stain"], share=0.5, gpus=2, runs_dir=tmp_path,
                     prober=fake_probe, stage_prober=fake_stages, progress=lambda line: None)
    units, pipelines = unit_table(plan), pipeline_table(plan)
    assert set(pipelines["pipeline"]) == {"cls_capacity", "stain"}
    for row in pipelines.itertuples():
        mine = units[units["pipeline"] == row.pipeline]
        assert row.trainings == mine["trainings"].sum() and row.pflop == pytest.approx(mine["pflop"].sum())
        assert row.gpu_hours_A100 == pytest.approx(mine["gpu_hours_A100"].sum())
        assert row.gpu_hours_H100 * 989 == pytest.approx(row.gpu_hours_A100 * 312)  # same FLOPs, other peak
        costs = plan.costs[row.pipeline]
        assert row.wall_hours_H200_x2 == pytest.approx(wall_hours(costs, GPUS[2], 0.5, 2))
        assert row.wall_hours_H200_x2 >= row.gpu_hours_H200 / 2 - 1e-12
    assert units["mini_epochs_mean"].isna().all()  # no mini runs in this runs folder
    files = write_plan(plan, tmp_path / "plan")
    assert pd.read_csv(files[0]).shape == units.shape
    page = files[-1].read_text()
    assert "# Plan: profile `smoke`" in page and "50% of each GPU" in page and "## Task requests" in page


def test_a_real_probe_counts_flops_and_memory_of_a_training_step():
    small = probe_in_child(ProbeSpec("task", "cnn1", 32, 4, False), threads=1)
    large = probe_in_child(ProbeSpec("task", "cnn1", 64, 4, False), threads=1)
    assert small.parameters == large.parameters > 0 and small.device == "cpu"
    assert large.train_flops_per_item == pytest.approx(4 * small.train_flops_per_item, rel=0.05)  # 4x the area
    assert 2 * small.forward_flops_per_item <= small.train_flops_per_item <= 4 * small.forward_flops_per_item
    assert 0 < small.peak_bytes < 2**30


def test_a_network_of_your_own_is_planned_and_probed_with_its_task():
    own = "py:stainworth.tasks.examples:tiny_cnn"
    profile = load_profile("smoke", [f"tasks.classification.architectures=[cnn1, '{own}']"])
    specs = []
    make_plan(profile, ["cls_capacity"], prober=lambda spec: specs.append(spec) or fake_probe(spec),
              stage_prober=fake_stages, progress=print)
    assert (own, "classification") in {(spec.name, spec.task) for spec in specs}
    probed = probe_in_child(ProbeSpec("task", own, 32, 4, False, task="classification"), threads=1)
    assert probed.parameters == 1265 and probed.train_flops_per_item > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--share", "0"], "share: found 0.0; expected a fraction"),
    (["--gpus", "0"], "gpus: found 0; expected an integer >= 1"),
    (["--pipelines", "prepare"], "pipeline 'prepare': expected one that trains networks"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    assert main(["plan", "--profile", "smoke", "--out", str(tmp_path / "plan"), *argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "plan").exists()


def test_share_and_gpus_are_checked_before_any_probe():
    with pytest.raises(ConfigError, match="share"):
        make_plan(load_profile("smoke"), ["stain"], share=1.5, prober=lambda spec: pytest.fail("probed"))


def test_epochs_observed_at_mini_come_from_the_newest_run_of_each_pipeline(tmp_path):
    from stainworth.plan.report import observed_epochs

    def run(name, profile, epochs, metric="auc"):
        folder = tmp_path / name
        table = folder / "pipeline-run" / "evaluate" / "evaluation" / "units.csv"
        table.parent.mkdir(parents=True)
        (folder / "profile.yaml").write_text(f"name: {profile}\n")
        pd.DataFrame({"architecture": ["cnn1"] * len(epochs), "epochs_run": epochs, f"test_{metric}": 0.7}).to_csv(
            table, index=False)

    run("cls_capacity-20261201-000000-aaaa", "mini", [10, 20])
    run("cls_capacity-20261202-000000-bbbb", "mini", [30, 50])  # newer: this one counts
    run("cls_capacity-20261203-000000-cccc", "smoke", [1, 1])  # not mini
    run("seg_capacity-20261201-000000-dddd", "mini", [7], metric="dice")
    assert observed_epochs(tmp_path) == {("classification", "cnn1"): (40.0, 50, 2),
                                         ("segmentation", "cnn1"): (7.0, 7, 1)}


def test_a_learnable_subset_smaller_than_min_epoch_items_is_costed_at_the_epoch_it_trains():
    profile = load_profile("mini")
    units = {(u.kind, u.train_items): u for u in planned_units(profile, "cls_learnable")
             if u.kind == "learnable"}
    assert {items: unit.epoch_items for (_, items), unit in units.items()} == {100: 400, 200: 400, 400: None}
    probe = ProbeResult(parameters=10, train_flops_per_item=2.0, forward_flops_per_item=1.0, peak_bytes=1.0,
                        device="test", seconds_per_step=0.0)
    small, full = unit_cost(units[("learnable", 100)], probe), unit_cost(units[("learnable", 400)], probe)
    assert small.steps_per_training == full.steps_per_training == math.ceil(400 / 32) * 40
    unit = units[("learnable", 100)]
    predicting = 1.0 * (unit.val_items * 40 + unit.predict_items)
    assert small.flops == pytest.approx(unit.count * (2.0 * 400 * 40 + predicting))

"""The task pipelines end to end on smoke through kfp.local: stainers, the fan-out of units, the evaluation."""

import html
from pathlib import Path

import pandas as pd
import pytest

from stainworth.contracts.manifest import OutputManifest, read_manifest
from stainworth.contracts.task import EvaluationManifest
from stainworth.launch.local import run_local
from stainworth.pipelines.sweeps import LOCAL_SLOTS
from stainworth.profiles import load_profile


def test_cls_capacity_smoke_trains_every_unit_and_evaluates_them(tmp_path):
    profile = load_profile("smoke")
    sweep = profile.tasks.classification
    units = len(sweep.architectures) * len(sweep.modalities) * sweep.replicates
    run = run_local("cls_capacity", profile, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store",
                    echo=False)
    assert set(run.outputs) == {"classification_report", "classification_evaluation", "study_report"}
    assert read_manifest(OutputManifest, run.outputs["classification_report"]).stage == "stain_report"
    folder = Path(run.outputs["classification_evaluation"])
    evaluation = read_manifest(EvaluationManifest, folder)
    assert evaluation.stage == "evaluate" and evaluation.task == "classification"
    assert evaluation.counts["units"] == evaluation.counts["capacity_units"] == units
    capacity = pd.read_csv(folder / "capacity.csv")
    assert len(capacity) == units + units // sweep.replicates  # every training and a summary row per unit
    summary = capacity[capacity["replicate"].isna()]
    assert set(zip(summary["architecture"], summary["modality"], strict=True)) == {
        (architecture, modality) for architecture in sweep.architectures for modality in sweep.modalities}
    assert (summary["replicates"] == sweep.replicates).all()
    assert len(pd.read_csv(folder / "units.csv")) == units
    assert (folder / "verdict.md").read_text().strip()
    log = (run.run_dir / "run.log").read_text()
    assert all(f"train_task run {k}/{units} " in log for k in range(1, units + 1))
    assert log.count("train_stainer epoch 1/1") == 2
    assert log.count("Executing task 'train-task") == LOCAL_SLOTS  # locally: one task per runner slot
    page = (Path(run.outputs["study_report"]) / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    verdict = (folder / "verdict.md").read_text().splitlines()[0].removeprefix("- ")
    assert verdict in html.unescape(page)


SWEEP_PIPELINES = {"seg_capacity": ("segmentation", "capacity"), "seg_learnable": ("segmentation", "learnable"),
                   "cls_learnable": ("classification", "learnable")}


def expected_units(profile, task, sweep_kind):
    sweep = profile.tasks.sweep(task)
    per_modality = len(sweep.architectures) * sweep.replicates if sweep_kind == "capacity" else \
        len(sweep.learnable.sizes) * sweep.learnable.subsets * profile.tasks.learnable_replicates(task)
    return per_modality * len(sweep.modalities)


def check_evaluation(folder, task, capacity_units, learnable_units):
    evaluation = read_manifest(EvaluationManifest, folder)
    assert evaluation.task == task and evaluation.counts["units"] == capacity_units + learnable_units
    assert (evaluation.counts["capacity_units"], evaluation.counts["learnable_units"]) == \
        (capacity_units, learnable_units)
    assert evaluation.verdict and (Path(folder) / "verdict.md").read_text().strip()
    return evaluation


@pytest.mark.parametrize("pipeline", sorted(SWEEP_PIPELINES))
def test_the_other_sweep_pipelines_run_on_smoke_to_a_report(pipeline, tmp_path):
    profile = load_profile("smoke")
    task, sweep_kind = SWEEP_PIPELINES[pipeline]
    units = expected_units(profile, task, sweep_kind)
    run = run_local(pipeline, profile, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store", echo=False)
    assert set(run.outputs) == {f"{task}_report", f"{task}_evaluation", "study_report"}
    folder = Path(run.outputs[f"{task}_evaluation"])
    check_evaluation(folder, task, *((units, 0) if sweep_kind == "capacity" else (0, units)))
    table = pd.read_csv(folder / f"{sweep_kind}.csv")
    sweep = profile.tasks.sweep(task)
    assert len(table) == units + units // sweep.replicates if sweep_kind == "capacity" else \
        len(table) == len(sweep.learnable.sizes) * len(sweep.modalities)  # trainings and summaries; cells
    report = Path(run.outputs["study_report"])
    figures = sorted(path.name for path in (report / "figures").iterdir())
    assert any(name.startswith(f"{task}-") for name in figures)
    assert "data:image/png;base64," in (report / "report.html").read_text()


def test_study_runs_all_four_sweeps_with_one_prepare_and_one_report(tmp_path):
    profile = load_profile("smoke")
    run = run_local("study", profile, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store", echo=False)
    for task in ("segmentation", "classification"):
        check_evaluation(run.outputs[f"{task}_evaluation"], task, expected_units(profile, task, "capacity"),
                         expected_units(profile, task, "learnable"))
    log = (run.run_dir / "run.log").read_text()
    assert log.count("Executing task 'extract'") == 1 and log.count("Executing task 'report'") == 1
    page = (Path(run.outputs["study_report"]) / "report.html").read_text()
    assert "Segmentation of nuclei" in page and "Classification of treated nuclei" in page
